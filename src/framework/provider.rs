//! The traits a provider and its resources, data sources and functions implement, with plain
//! request/response structs. The gRPC layer (`crate::protocol`) translates the wire into these.

use std::sync::Arc;

use async_trait::async_trait;

use super::diagnostics::{AttributePath, Diagnostics};
use super::encoded::Encoded;
use super::schema::Schema;
use super::types::Type;
use super::value::Value;

/// The provider itself: its configuration schema and the things it offers.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    fn schema(&self) -> Schema;
    /// Static checks of the provider block (may contain unknowns).
    fn validate(&self, config: &Value) -> Diagnostics;
    /// Called once per process before any resource operation; builds clients.
    async fn configure(&self, config: &Value, terraform_version: &str) -> Diagnostics;
    fn resources(&self) -> Vec<Arc<dyn Resource>>;
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>>;
    fn functions(&self) -> Vec<Arc<dyn Function>> {
        Vec::new()
    }
    /// Terraform asked us to stop (Ctrl-C): in-flight operations should wind down.
    fn stop(&self) {}
}

pub struct PlanRequest {
    pub prior_state: Value,
    pub proposed_new_state: Value,
    pub config: Value,
    pub prior_private: Vec<u8>,
}

#[derive(Default)]
pub struct PlanResponse {
    pub planned_state: Value,
    pub requires_replace: Vec<AttributePath>,
    pub planned_private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

pub struct ApplyRequest {
    pub prior_state: Value,
    /// Null when destroying.
    pub planned_state: Value,
    pub config: Value,
    pub planned_private: Vec<u8>,
}

#[derive(Default)]
pub struct ApplyResponse {
    /// Null after a destroy. On a partial failure, whatever was really created.
    pub new_state: Value,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

pub struct ReadRequest {
    pub current_state: Value,
    pub private: Vec<u8>,
}

#[derive(Default)]
pub struct ReadResponse {
    /// Null when the remote object is gone.
    pub new_state: Value,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

/// [`PlanRequest`] with its values as Terraform sent them (see [`Encoded`]).
pub struct EncodedPlanRequest {
    pub prior_state: Encoded,
    pub proposed_new_state: Encoded,
    pub config: Encoded,
    pub prior_private: Vec<u8>,
}

/// [`ApplyRequest`] with its values as Terraform sent them.
pub struct EncodedApplyRequest {
    pub prior_state: Encoded,
    pub planned_state: Encoded,
    pub config: Encoded,
    pub planned_private: Vec<u8>,
}

/// [`ReadRequest`] with its value as Terraform sent it.
pub struct EncodedReadRequest {
    pub current_state: Encoded,
    pub private: Vec<u8>,
}

impl EncodedPlanRequest {
    /// For a caller that holds the values already; `ty` is the resource's value type.
    pub fn from_values(req: PlanRequest, ty: &Type) -> EncodedPlanRequest {
        let value = |v, what| Encoded::from_value(v, ty.clone(), what);
        EncodedPlanRequest {
            prior_state: value(req.prior_state, "prior state"),
            proposed_new_state: value(req.proposed_new_state, "proposed state"),
            config: value(req.config, "configuration"),
            prior_private: req.prior_private,
        }
    }
}

impl EncodedApplyRequest {
    /// See [`EncodedPlanRequest::from_values`].
    pub fn from_values(req: ApplyRequest, ty: &Type) -> EncodedApplyRequest {
        let value = |v, what| Encoded::from_value(v, ty.clone(), what);
        EncodedApplyRequest {
            prior_state: value(req.prior_state, "prior state"),
            planned_state: value(req.planned_state, "planned state"),
            config: value(req.config, "configuration"),
            planned_private: req.planned_private,
        }
    }
}

impl EncodedReadRequest {
    /// See [`EncodedPlanRequest::from_values`].
    pub fn from_values(req: ReadRequest, ty: &Type) -> EncodedReadRequest {
        EncodedReadRequest {
            current_state: Encoded::from_value(req.current_state, ty.clone(), "current state"),
            private: req.private,
        }
    }
}

pub struct ImportedResource {
    pub state: Value,
    pub private: Vec<u8>,
}

/// State of another resource type (possibly of another provider) that a `moved` block hands
/// to this resource type (Terraform ≥1.8, MoveResourceState).
pub struct MoveRequest<'a> {
    /// For example `registry.terraform.io/hashicorp/azurerm`.
    pub source_provider_address: &'a str,
    pub source_type_name: &'a str,
    pub source_schema_version: i64,
    /// The source state as Terraform stored it: JSON in the source's own schema.
    pub source_state_json: &'a [u8],
    pub source_private: &'a [u8],
}

/// The converted state and private state of a move.
pub struct MovedResource {
    pub state: Value,
    pub private: Vec<u8>,
}

/// A managed resource. Only `schema`, `apply` and `read` are mandatory: the default plan keeps
/// config values, leaves unknowns unknown and marks unset computed attributes unknown.
#[async_trait]
pub trait Resource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;

    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    async fn plan(&self, req: PlanRequest) -> PlanResponse {
        default_plan(&self.schema(), req)
    }

    async fn apply(&self, req: ApplyRequest) -> ApplyResponse;

    /// What the gRPC layer calls: by default the values are decoded and [`Resource::plan`]
    /// runs. A resource whose state can be large overrides the `*_encoded` methods to decode
    /// straight into its typed model. `Err`: the request could not be decoded.
    async fn plan_encoded(&self, req: EncodedPlanRequest) -> Result<PlanResponse, Diagnostics> {
        let (prior_state, proposed_new_state) = (req.prior_state.into_value()?, req.proposed_new_state.into_value()?);
        let config = req.config.into_value()?;
        Ok(self.plan(PlanRequest { prior_state, proposed_new_state, config, prior_private: req.prior_private }).await)
    }

    /// See [`Resource::plan_encoded`].
    async fn apply_encoded(&self, req: EncodedApplyRequest) -> Result<ApplyResponse, Diagnostics> {
        let (prior_state, planned_state) = (req.prior_state.into_value()?, req.planned_state.into_value()?);
        let config = req.config.into_value()?;
        Ok(self.apply(ApplyRequest { prior_state, planned_state, config, planned_private: req.planned_private }).await)
    }

    /// See [`Resource::plan_encoded`].
    async fn read_encoded(&self, req: EncodedReadRequest) -> Result<ReadResponse, Diagnostics> {
        Ok(self.read(ReadRequest { current_state: req.current_state.into_value()?, private: req.private }).await)
    }

    async fn read(&self, req: ReadRequest) -> ReadResponse;

    async fn import(&self, id: &str) -> Result<Vec<ImportedResource>, Diagnostics> {
        let _ = id;
        let mut d = Diagnostics::new();
        d.error(
            format!("{} does not support import", self.type_name()),
            "Declare the resource in configuration and let Terraform create it.",
        );
        Err(d)
    }

    /// Convert another resource type's state into this one for a `moved` block. The default
    /// refuses: types opt in per source they understand.
    fn move_state(&self, req: &MoveRequest<'_>) -> Result<MovedResource, Diagnostics> {
        let mut d = Diagnostics::new();
        d.error(
            "Moving resources across types is not supported",
            format!(
                "{} cannot take over {} state from {}. Remove the old resource from state and import this one.",
                self.type_name(),
                req.source_type_name,
                req.source_provider_address
            ),
        );
        Err(d)
    }

    /// Convert state written under an older schema `version` (raw JSON) to the current
    /// schema. The default only accepts the current version.
    fn upgrade_state(&self, version: i64, raw_json: &[u8]) -> Result<Value, Diagnostics> {
        let schema = self.schema();
        if version != schema.version {
            let mut d = Diagnostics::new();
            d.error(
                "Unsupported state version",
                format!(
                    "{} state has schema version {version}, but this provider knows only version {}. \
                     Upgrade the provider or restore the state from a backup.",
                    self.type_name(),
                    schema.version
                ),
            );
            return Err(d);
        }
        super::codec::from_json(raw_json, &schema.block.value_type()).map_err(|e| {
            let mut d = Diagnostics::new();
            d.error("Stored state does not match the schema", e.to_string());
            d
        })
    }
}

/// The plan every resource gets unless it overrides `plan`.
pub fn default_plan(schema: &Schema, req: PlanRequest) -> PlanResponse {
    if req.proposed_new_state.is_null() {
        return PlanResponse { planned_state: Value::Null, ..Default::default() };
    }
    let mut planned = req.proposed_new_state;
    if req.prior_state.is_null() || planned != req.prior_state {
        schema.block.mark_computed_nulls_unknown(&req.config, &mut planned);
    }
    PlanResponse { planned_state: planned, planned_private: req.prior_private, ..Default::default() }
}

/// A data source: read-only, computed from config on every plan.
#[async_trait]
pub trait DataSource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Return the full state: config plus every computed attribute, wholly known.
    async fn read(&self, config: &Value) -> Result<Value, Diagnostics>;
}

pub struct Parameter {
    pub name: &'static str,
    pub ty: Type,
    pub description: &'static str,
}

/// An error from a function call, optionally blaming one argument.
pub struct FunctionError {
    pub text: String,
    pub argument: Option<usize>,
}

/// A provider function, called as `provider::aksid::NAME(...)` on Terraform ≥1.8.
pub trait Function: Send + Sync {
    fn name(&self) -> &'static str;
    fn summary(&self) -> &'static str;
    fn description(&self) -> &'static str;
    fn parameters(&self) -> Vec<Parameter>;
    fn return_type(&self) -> Type;
    fn call(&self, args: &[Value]) -> Result<Value, FunctionError>;
}
