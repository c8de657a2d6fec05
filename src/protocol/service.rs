//! The `tfplugin5.Provider` gRPC service: decodes each request into framework values, calls the
//! provider, resource or data source, and encodes the answer. RPCs for features we do not offer
//! (ephemeral resources, list resources, actions, identities) answer with an error diagnostic
//! naming the unknown type, which Terraform shows to the user instead of crashing.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;

use tokio_stream::Stream;
use tonic::{Request, Response, Status};
use tracing::{debug, warn};

use super::convert::{self, decode, encode, encoded};
use crate::framework::{
    DataSource, Diagnostic, Diagnostics, EncodedApplyRequest, EncodedPlanRequest, EncodedReadRequest, Function,
    MoveRequest, Provider, Resource, Value,
};
use crate::proto::tfplugin5 as pb;
use crate::proto::tfplugin5::provider_server::Provider as ProviderRpc;

/// Serves one `Provider` implementation over tfplugin5.
pub struct ProviderService {
    provider: Arc<dyn Provider>,
    resources: BTreeMap<&'static str, Arc<dyn Resource>>,
    data_sources: BTreeMap<&'static str, Arc<dyn DataSource>>,
    functions: BTreeMap<&'static str, Arc<dyn Function>>,
}

type Rpc<T> = Result<Response<T>, Status>;

fn unknown_type(kind: &str, name: &str) -> Diagnostics {
    Diagnostic::error(
        format!("Unknown {kind} type"),
        format!("The aksid provider has no {kind} named {name:?}. Check the spelling, or upgrade the provider."),
    )
    .into()
}

impl ProviderService {
    pub fn new(provider: Arc<dyn Provider>) -> Self {
        let resources = provider.resources().into_iter().map(|r| (r.type_name(), r)).collect();
        let data_sources = provider.data_sources().into_iter().map(|d| (d.type_name(), d)).collect();
        let functions = provider.functions().into_iter().map(|f| (f.name(), f)).collect();
        ProviderService { provider, resources, data_sources, functions }
    }

    pub fn into_server(self) -> pb::provider_server::ProviderServer<Self> {
        // Terraform's client accepts any message size; plugin-go allows 256 MiB, so do we.
        const LIMIT: usize = 256 << 20;
        pb::provider_server::ProviderServer::new(self).max_decoding_message_size(LIMIT).max_encoding_message_size(LIMIT)
    }

    fn resource(&self, name: &str) -> Result<&Arc<dyn Resource>, Diagnostics> {
        self.resources.get(name).ok_or_else(|| unknown_type("resource", name))
    }

    fn data_source(&self, name: &str) -> Result<&Arc<dyn DataSource>, Diagnostics> {
        self.data_sources.get(name).ok_or_else(|| unknown_type("data source", name))
    }
}

/// Run a fallible body and fold its error diagnostics into the response.
macro_rules! try_diags {
    ($e:expr, $resp:ident) => {
        match $e {
            Ok(v) => v,
            Err(d) => {
                $resp.diagnostics.extend(convert::diagnostics(&d));
                return Ok(Response::new($resp));
            }
        }
    };
}

#[tonic::async_trait]
impl ProviderRpc for ProviderService {
    async fn get_metadata(&self, _: Request<pb::get_metadata::Request>) -> Rpc<pb::get_metadata::Response> {
        use pb::get_metadata as m;
        Ok(Response::new(m::Response {
            server_capabilities: Some(capabilities()),
            resources: self.resources.keys().map(|k| m::ResourceMetadata { type_name: k.to_string() }).collect(),
            data_sources: self
                .data_sources
                .keys()
                .map(|k| m::DataSourceMetadata { type_name: k.to_string() })
                .collect(),
            functions: self.functions.keys().map(|k| m::FunctionMetadata { name: k.to_string() }).collect(),
            ..Default::default()
        }))
    }

    async fn get_schema(&self, _: Request<pb::get_provider_schema::Request>) -> Rpc<pb::get_provider_schema::Response> {
        debug!(tf_rpc = "GetSchema", "serving provider schema");
        Ok(Response::new(pb::get_provider_schema::Response {
            provider: Some(convert::schema(&self.provider.schema())),
            resource_schemas: self
                .resources
                .iter()
                .map(|(k, r)| (k.to_string(), convert::schema(&r.schema())))
                .collect(),
            data_source_schemas: self
                .data_sources
                .iter()
                .map(|(k, d)| (k.to_string(), convert::schema(&d.schema())))
                .collect(),
            functions: self.functions.iter().map(|(k, f)| (k.to_string(), convert::function(f.as_ref()))).collect(),
            server_capabilities: Some(capabilities()),
            ..Default::default()
        }))
    }

    async fn prepare_provider_config(
        &self,
        req: Request<pb::prepare_provider_config::Request>,
    ) -> Rpc<pb::prepare_provider_config::Response> {
        let req = req.into_inner();
        let mut resp = pb::prepare_provider_config::Response::default();
        let ty = self.provider.schema().block.value_type();
        let config = try_diags!(decode(req.config.as_ref(), &ty, "provider configuration"), resp);
        resp.diagnostics = convert::diagnostics(&self.provider.validate(&config));
        // Terraform ignores prepared_config, but it must decode: echo the config.
        resp.prepared_config = req.config;
        Ok(Response::new(resp))
    }

    async fn validate_resource_type_config(
        &self,
        req: Request<pb::validate_resource_type_config::Request>,
    ) -> Rpc<pb::validate_resource_type_config::Response> {
        let req = req.into_inner();
        let mut resp = pb::validate_resource_type_config::Response::default();
        let r = try_diags!(self.resource(&req.type_name), resp);
        let config = try_diags!(decode(req.config.as_ref(), &r.schema().block.value_type(), "configuration"), resp);
        resp.diagnostics = convert::diagnostics(&r.validate(&config));
        Ok(Response::new(resp))
    }

    async fn validate_data_source_config(
        &self,
        req: Request<pb::validate_data_source_config::Request>,
    ) -> Rpc<pb::validate_data_source_config::Response> {
        let req = req.into_inner();
        let mut resp = pb::validate_data_source_config::Response::default();
        let d = try_diags!(self.data_source(&req.type_name), resp);
        let config = try_diags!(decode(req.config.as_ref(), &d.schema().block.value_type(), "configuration"), resp);
        resp.diagnostics = convert::diagnostics(&d.validate(&config));
        Ok(Response::new(resp))
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> Rpc<pb::upgrade_resource_state::Response> {
        let req = req.into_inner();
        let mut resp = pb::upgrade_resource_state::Response::default();
        let r = try_diags!(self.resource(&req.type_name), resp);
        let raw = req.raw_state.unwrap_or_default();
        if raw.json.is_empty() && !raw.flatmap.is_empty() {
            let d: Diagnostics = Diagnostic::error(
                "Unsupported legacy state format",
                "This state was written by Terraform 0.11 or older (flatmap). Upgrade it with Terraform 0.12–0.13 first.",
            )
            .into();
            resp.diagnostics = convert::diagnostics(&d);
            return Ok(Response::new(resp));
        }
        let ty = r.schema().block.value_type();
        let upgraded = if raw.json.is_empty() { Ok(Value::Null) } else { r.upgrade_state(req.version, &raw.json) };
        let value = try_diags!(upgraded, resp);
        resp.upgraded_state = Some(try_diags!(encode(&value, &ty, "upgraded state"), resp));
        Ok(Response::new(resp))
    }

    async fn get_resource_identity_schemas(
        &self,
        _: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Rpc<pb::get_resource_identity_schemas::Response> {
        // No resource of ours has an identity schema (yet): an empty map says so.
        Ok(Response::new(Default::default()))
    }

    async fn upgrade_resource_identity(
        &self,
        req: Request<pb::upgrade_resource_identity::Request>,
    ) -> Rpc<pb::upgrade_resource_identity::Response> {
        let name = req.into_inner().type_name;
        Ok(Response::new(pb::upgrade_resource_identity::Response {
            diagnostics: convert::diagnostics(&unknown_type("resource identity", &name)),
            ..Default::default()
        }))
    }

    async fn configure(&self, req: Request<pb::configure::Request>) -> Rpc<pb::configure::Response> {
        let req = req.into_inner();
        let mut resp = pb::configure::Response::default();
        let ty = self.provider.schema().block.value_type();
        let config = try_diags!(decode(req.config.as_ref(), &ty, "provider configuration"), resp);
        debug!(tf_rpc = "Configure", terraform_version = %req.terraform_version, "configuring provider");
        resp.diagnostics = convert::diagnostics(&self.provider.configure(&config, &req.terraform_version).await);
        Ok(Response::new(resp))
    }

    async fn read_resource(&self, req: Request<pb::read_resource::Request>) -> Rpc<pb::read_resource::Response> {
        let mut req = req.into_inner();
        let mut resp = pb::read_resource::Response::default();
        let r = try_diags!(self.resource(&req.type_name), resp);
        let ty = r.schema().block.value_type();
        let current_state = encoded(req.current_state.take(), &ty, "current state");
        let out = try_diags!(r.read_encoded(EncodedReadRequest { current_state, private: req.private }).await, resp);
        resp.diagnostics = convert::diagnostics(&out.diagnostics);
        resp.new_state = Some(try_diags!(encode(&out.new_state, &ty, "state"), resp));
        resp.private = out.private;
        Ok(Response::new(resp))
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Rpc<pb::plan_resource_change::Response> {
        let mut req = req.into_inner();
        let mut resp = pb::plan_resource_change::Response::default();
        let r = try_diags!(self.resource(&req.type_name), resp);
        let ty = r.schema().block.value_type();
        // The values stay encoded until the resource decodes them (see `Encoded`).
        let prior_state = encoded(req.prior_state.take(), &ty, "prior state");
        let proposed_new_state = encoded(req.proposed_new_state.take(), &ty, "proposed state");
        let config = encoded(req.config.take(), &ty, "configuration");
        let planning = EncodedPlanRequest { prior_state, proposed_new_state, config, prior_private: req.prior_private };
        let out = try_diags!(r.plan_encoded(planning).await, resp);
        resp.diagnostics = convert::diagnostics(&out.diagnostics);
        resp.planned_state = Some(try_diags!(encode(&out.planned_state, &ty, "plan"), resp));
        resp.requires_replace = out.requires_replace.iter().map(convert::attribute_path).collect();
        resp.planned_private = out.planned_private;
        Ok(Response::new(resp))
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Rpc<pb::apply_resource_change::Response> {
        let mut req = req.into_inner();
        let mut resp = pb::apply_resource_change::Response::default();
        let r = try_diags!(self.resource(&req.type_name), resp);
        let ty = r.schema().block.value_type();
        let prior_state = encoded(req.prior_state.take(), &ty, "prior state");
        let planned_state = encoded(req.planned_state.take(), &ty, "planned state");
        let config = encoded(req.config.take(), &ty, "configuration");
        let applying = EncodedApplyRequest { prior_state, planned_state, config, planned_private: req.planned_private };
        let out = try_diags!(r.apply_encoded(applying).await, resp);
        if !out.new_state.is_wholly_known() {
            warn!(tf_rpc = "ApplyResourceChange", type_name = %req.type_name, "apply left unknown values; storing them as null");
        }
        resp.diagnostics = convert::diagnostics(&out.diagnostics);
        resp.new_state = Some(try_diags!(encode(&out.new_state.unknowns_to_null(), &ty, "new state"), resp));
        resp.private = out.private;
        Ok(Response::new(resp))
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Rpc<pb::import_resource_state::Response> {
        let req = req.into_inner();
        let mut resp = pb::import_resource_state::Response::default();
        let r = try_diags!(self.resource(&req.type_name), resp);
        let ty = r.schema().block.value_type();
        let imported = try_diags!(r.import(&req.id).await, resp);
        for item in imported {
            let state = try_diags!(encode(&item.state, &ty, "imported state"), resp);
            resp.imported_resources.push(pb::import_resource_state::ImportedResource {
                type_name: req.type_name.clone(),
                state: Some(state),
                private: item.private,
                identity: None,
            });
        }
        Ok(Response::new(resp))
    }

    async fn move_resource_state(
        &self,
        req: Request<pb::move_resource_state::Request>,
    ) -> Rpc<pb::move_resource_state::Response> {
        let req = req.into_inner();
        let mut resp = pb::move_resource_state::Response::default();
        let r = try_diags!(self.resource(&req.target_type_name), resp);
        let raw = req.source_state.unwrap_or_default();
        if raw.json.is_empty() {
            let d: Diagnostics = Diagnostic::error(
                "Cannot move this state",
                format!("The {} state arrived without JSON (empty or legacy flatmap).", req.source_type_name),
            )
            .into();
            resp.diagnostics = convert::diagnostics(&d);
            return Ok(Response::new(resp));
        }
        debug!(tf_rpc = "MoveResourceState", from = %req.source_type_name, to = %req.target_type_name, "moving state");
        let moved = try_diags!(
            r.move_state(&MoveRequest {
                source_provider_address: &req.source_provider_address,
                source_type_name: &req.source_type_name,
                source_schema_version: req.source_schema_version,
                source_state_json: &raw.json,
                source_private: &req.source_private,
            }),
            resp
        );
        let ty = r.schema().block.value_type();
        resp.target_state = Some(try_diags!(encode(&moved.state, &ty, "moved state"), resp));
        resp.target_private = moved.private;
        Ok(Response::new(resp))
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> Rpc<pb::read_data_source::Response> {
        let req = req.into_inner();
        let mut resp = pb::read_data_source::Response::default();
        let d = try_diags!(self.data_source(&req.type_name), resp);
        let ty = d.schema().block.value_type();
        let config = try_diags!(decode(req.config.as_ref(), &ty, "configuration"), resp);
        debug!(tf_rpc = "ReadDataSource", type_name = %req.type_name, "reading data source");
        let state = try_diags!(d.read(&config).await, resp);
        resp.state = Some(try_diags!(encode(&state, &ty, "data source state"), resp));
        Ok(Response::new(resp))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        req: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Rpc<pb::validate_ephemeral_resource_config::Response> {
        let name = req.into_inner().type_name;
        Ok(Response::new(pb::validate_ephemeral_resource_config::Response {
            diagnostics: convert::diagnostics(&unknown_type("ephemeral resource", &name)),
        }))
    }

    async fn open_ephemeral_resource(
        &self,
        req: Request<pb::open_ephemeral_resource::Request>,
    ) -> Rpc<pb::open_ephemeral_resource::Response> {
        let name = req.into_inner().type_name;
        Ok(Response::new(pb::open_ephemeral_resource::Response {
            diagnostics: convert::diagnostics(&unknown_type("ephemeral resource", &name)),
            ..Default::default()
        }))
    }

    async fn renew_ephemeral_resource(
        &self,
        req: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Rpc<pb::renew_ephemeral_resource::Response> {
        let name = req.into_inner().type_name;
        Ok(Response::new(pb::renew_ephemeral_resource::Response {
            diagnostics: convert::diagnostics(&unknown_type("ephemeral resource", &name)),
            ..Default::default()
        }))
    }

    async fn close_ephemeral_resource(
        &self,
        req: Request<pb::close_ephemeral_resource::Request>,
    ) -> Rpc<pb::close_ephemeral_resource::Response> {
        let name = req.into_inner().type_name;
        Ok(Response::new(pb::close_ephemeral_resource::Response {
            diagnostics: convert::diagnostics(&unknown_type("ephemeral resource", &name)),
        }))
    }

    type ListResourceStream = Pin<Box<dyn Stream<Item = Result<pb::list_resource::Event, Status>> + Send>>;

    async fn list_resource(&self, req: Request<pb::list_resource::Request>) -> Rpc<Self::ListResourceStream> {
        let name = req.into_inner().type_name;
        let event = pb::list_resource::Event {
            diagnostic: convert::diagnostics(&unknown_type("list resource", &name)),
            ..Default::default()
        };
        Ok(Response::new(Box::pin(tokio_stream::iter([Ok(event)]))))
    }

    async fn validate_list_resource_config(
        &self,
        req: Request<pb::validate_list_resource_config::Request>,
    ) -> Rpc<pb::validate_list_resource_config::Response> {
        let name = req.into_inner().type_name;
        Ok(Response::new(pb::validate_list_resource_config::Response {
            diagnostics: convert::diagnostics(&unknown_type("list resource", &name)),
        }))
    }

    async fn get_functions(&self, _: Request<pb::get_functions::Request>) -> Rpc<pb::get_functions::Response> {
        Ok(Response::new(pb::get_functions::Response {
            functions: self.functions.iter().map(|(k, f)| (k.to_string(), convert::function(f.as_ref()))).collect(),
            diagnostics: vec![],
        }))
    }

    async fn call_function(&self, req: Request<pb::call_function::Request>) -> Rpc<pb::call_function::Response> {
        let req = req.into_inner();
        let fail = |text: String, arg: Option<usize>| {
            Ok(Response::new(pb::call_function::Response {
                result: None,
                error: Some(pb::FunctionError { text, function_argument: arg.map(|a| a as i64) }),
            }))
        };
        let Some(f) = self.functions.get(req.name.as_str()) else {
            return fail(format!("aksid has no function named {:?}", req.name), None);
        };
        let params = f.parameters();
        if req.arguments.len() != params.len() {
            return fail(format!("{} takes {} arguments, got {}", f.name(), params.len(), req.arguments.len()), None);
        }
        let mut args = Vec::with_capacity(params.len());
        for (i, (dv, p)) in req.arguments.iter().zip(&params).enumerate() {
            match decode(Some(dv), &p.ty, "function argument") {
                Ok(v) => args.push(v),
                Err(d) => return fail(d.0.first().map(|d| d.detail.clone()).unwrap_or_default(), Some(i)),
            }
        }
        match f.call(&args) {
            Ok(v) => match encode(&v, &f.return_type(), "function result") {
                Ok(dv) => Ok(Response::new(pb::call_function::Response { result: Some(dv), error: None })),
                Err(d) => fail(d.0.first().map(|d| d.detail.clone()).unwrap_or_default(), None),
            },
            Err(e) => fail(e.text, e.argument),
        }
    }

    async fn plan_action(&self, req: Request<pb::plan_action::Request>) -> Rpc<pb::plan_action::Response> {
        let name = req.into_inner().action_type;
        Ok(Response::new(pb::plan_action::Response {
            diagnostics: convert::diagnostics(&unknown_type("action", &name)),
            ..Default::default()
        }))
    }

    type InvokeActionStream = Pin<Box<dyn Stream<Item = Result<pb::invoke_action::Event, Status>> + Send>>;

    async fn invoke_action(&self, req: Request<pb::invoke_action::Request>) -> Rpc<Self::InvokeActionStream> {
        use pb::invoke_action::event;
        let name = req.into_inner().action_type;
        let event = pb::invoke_action::Event {
            r#type: Some(event::Type::Completed(event::Completed {
                diagnostics: convert::diagnostics(&unknown_type("action", &name)),
                ..Default::default()
            })),
        };
        Ok(Response::new(Box::pin(tokio_stream::iter([Ok(event)]))))
    }

    async fn validate_action_config(
        &self,
        req: Request<pb::validate_action_config::Request>,
    ) -> Rpc<pb::validate_action_config::Response> {
        let name = req.into_inner().type_name;
        Ok(Response::new(pb::validate_action_config::Response {
            diagnostics: convert::diagnostics(&unknown_type("action", &name)),
        }))
    }

    async fn stop(&self, _: Request<pb::stop::Request>) -> Rpc<pb::stop::Response> {
        debug!(tf_rpc = "Stop", "stop requested");
        self.provider.stop();
        Ok(Response::new(pb::stop::Response { error: String::new() }))
    }
}

fn capabilities() -> pb::ServerCapabilities {
    // Destroy arrives as ApplyResourceChange with a null plan on every Terraform version, so we
    // do not ask for destroy plans; schemas are cheap, so GetSchema stays mandatory. Moves are
    // offered to every type; those without a `move_state` answer with a diagnostic.
    pb::ServerCapabilities { plan_destroy: false, get_provider_schema_optional: false, move_resource_state: true }
}

#[cfg(test)]
mod tests {
    //! The service against a small in-memory resource, covering the framework paths that the
    //! shipped resources rely on: unknowns in plan, destroy via apply, state upgrades, private
    //! state, functions and malformed input.
    use super::*;
    use crate::framework::{
        codec, ApplyRequest, ApplyResponse, Attribute, Block, FunctionError, Parameter, ReadRequest, ReadResponse,
        Schema, Type,
    };

    struct Thing;

    fn thing_schema() -> Schema {
        Schema {
            version: 1,
            block: Block::new("test")
                .attribute(Attribute::required("name", Type::String, ""))
                .attribute(Attribute::computed("id", Type::String, "")),
        }
    }

    #[async_trait::async_trait]
    impl Resource for Thing {
        fn type_name(&self) -> &'static str {
            "test_thing"
        }
        fn schema(&self) -> Schema {
            thing_schema()
        }
        async fn apply(&self, req: ApplyRequest) -> ApplyResponse {
            if req.planned_state.is_null() {
                return ApplyResponse::default();
            }
            let mut s = req.planned_state;
            s.set_attr("id", Value::string("thing-1"));
            ApplyResponse { new_state: s, private: b"p2".to_vec(), ..Default::default() }
        }
        async fn read(&self, req: ReadRequest) -> ReadResponse {
            ReadResponse { new_state: req.current_state, private: req.private, ..Default::default() }
        }
        fn move_state(&self, req: &MoveRequest<'_>) -> Result<crate::framework::MovedResource, Diagnostics> {
            let old: serde_json::Value = serde_json::from_slice(req.source_state_json).unwrap_or_default();
            match (req.source_type_name, old["title"].as_str()) {
                ("old_thing", Some(title)) => Ok(crate::framework::MovedResource {
                    state: thing(Value::string(title), Value::string("thing-1")),
                    private: req.source_private.to_vec(),
                }),
                _ => Err(Diagnostic::error("no", "only old_thing with a title").into()),
            }
        }
    }

    /// A resource that keeps the default `move_state`.
    struct Plain;

    #[async_trait::async_trait]
    impl Resource for Plain {
        fn type_name(&self) -> &'static str {
            "test_plain"
        }
        fn schema(&self) -> Schema {
            thing_schema()
        }
        async fn apply(&self, _: ApplyRequest) -> ApplyResponse {
            ApplyResponse::default()
        }
        async fn read(&self, req: ReadRequest) -> ReadResponse {
            ReadResponse { new_state: req.current_state, ..Default::default() }
        }
    }

    struct Echo;
    impl Function for Echo {
        fn name(&self) -> &'static str {
            "echo"
        }
        fn summary(&self) -> &'static str {
            ""
        }
        fn description(&self) -> &'static str {
            ""
        }
        fn parameters(&self) -> Vec<Parameter> {
            vec![Parameter { name: "s", ty: Type::String, description: "" }]
        }
        fn return_type(&self) -> Type {
            Type::String
        }
        fn call(&self, args: &[Value]) -> Result<Value, FunctionError> {
            match args[0].as_str() {
                Some("") => Err(FunctionError { text: "empty".into(), argument: Some(0) }),
                _ => Ok(args[0].clone()),
            }
        }
    }

    struct TestProvider;
    #[async_trait::async_trait]
    impl Provider for TestProvider {
        fn schema(&self) -> Schema {
            Schema { version: 0, block: Block::new("") }
        }
        fn validate(&self, _: &Value) -> Diagnostics {
            Diagnostics::new()
        }
        async fn configure(&self, _: &Value, _: &str) -> Diagnostics {
            Diagnostics::new()
        }
        fn resources(&self) -> Vec<Arc<dyn Resource>> {
            vec![Arc::new(Thing), Arc::new(Plain)]
        }
        fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
            vec![]
        }
        fn functions(&self) -> Vec<Arc<dyn Function>> {
            vec![Arc::new(Echo)]
        }
    }

    fn svc() -> ProviderService {
        ProviderService::new(Arc::new(TestProvider))
    }

    fn dv(v: &Value) -> Option<pb::DynamicValue> {
        Some(pb::DynamicValue {
            msgpack: codec::to_msgpack(v, &thing_schema().block.value_type()).unwrap().into(),
            json: Default::default(),
        })
    }

    fn undv(d: Option<pb::DynamicValue>) -> Value {
        codec::from_msgpack(&d.unwrap().msgpack, &thing_schema().block.value_type()).unwrap()
    }

    fn thing(name: Value, id: Value) -> Value {
        Value::object([("name", name), ("id", id)])
    }

    fn plan_req(prior: Value, proposed: Value) -> pb::plan_resource_change::Request {
        pb::plan_resource_change::Request {
            type_name: "test_thing".into(),
            prior_state: dv(&prior),
            proposed_new_state: dv(&proposed),
            config: dv(&proposed),
            prior_private: b"p1".to_vec(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn create_plan_marks_computed_unknown_and_keeps_config_unknowns() {
        let resp = svc()
            .plan_resource_change(Request::new(plan_req(Value::Null, thing(Value::Unknown, Value::Null))))
            .await
            .unwrap()
            .into_inner();
        assert!(resp.diagnostics.is_empty());
        let planned = undv(resp.planned_state);
        assert!(planned.attr("name").is_unknown(), "unknown config stays unknown");
        assert!(planned.attr("id").is_unknown(), "computed id is decided at apply");
        assert_eq!(resp.planned_private, b"p1", "private state passes through plan");
    }

    #[tokio::test]
    async fn unchanged_plan_equals_prior() {
        let prior = thing(Value::string("a"), Value::string("thing-1"));
        let resp = svc()
            .plan_resource_change(Request::new(plan_req(prior.clone(), prior.clone())))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(undv(resp.planned_state), prior);
    }

    #[tokio::test]
    async fn destroy_arrives_as_apply_with_null_plan() {
        let req = pb::apply_resource_change::Request {
            type_name: "test_thing".into(),
            prior_state: dv(&thing(Value::string("a"), Value::string("thing-1"))),
            planned_state: dv(&Value::Null),
            config: dv(&Value::Null),
            ..Default::default()
        };
        let resp = svc().apply_resource_change(Request::new(req)).await.unwrap().into_inner();
        assert!(resp.diagnostics.is_empty());
        assert!(undv(resp.new_state).is_null());
    }

    #[tokio::test]
    async fn state_upgrade_rules() {
        let up = |version: i64, json: &[u8], flat: bool| pb::upgrade_resource_state::Request {
            type_name: "test_thing".into(),
            version,
            raw_state: Some(pb::RawState {
                json: json.to_vec().into(),
                flatmap: if flat { [("name".to_string(), "a".to_string())].into() } else { Default::default() },
            }),
        };
        let s = svc();
        let ok = s
            .upgrade_resource_state(Request::new(up(1, br#"{"name":"a","id":"x"}"#, false)))
            .await
            .unwrap()
            .into_inner();
        assert!(ok.diagnostics.is_empty());
        assert_eq!(undv(ok.upgraded_state), thing(Value::string("a"), Value::string("x")));
        let flat = s.upgrade_resource_state(Request::new(up(1, b"", true))).await.unwrap().into_inner();
        assert!(flat.diagnostics[0].summary.contains("legacy"));
        let old = s.upgrade_resource_state(Request::new(up(7, br#"{"name":"a"}"#, false))).await.unwrap().into_inner();
        assert!(old.diagnostics[0].summary.contains("Unsupported state version"));
    }

    #[tokio::test]
    async fn unknown_types_and_garbage_give_diagnostics_not_panics() {
        let s = svc();
        let mut req = plan_req(Value::Null, thing(Value::string("a"), Value::Null));
        req.type_name = "test_nope".into();
        let resp = s.plan_resource_change(Request::new(req)).await.unwrap().into_inner();
        assert!(resp.diagnostics[0].summary.contains("Unknown resource type"));
        let mut req = plan_req(Value::Null, Value::Null);
        req.proposed_new_state = Some(pb::DynamicValue { msgpack: vec![0xc1, 0xff].into(), json: Default::default() });
        let resp = s.plan_resource_change(Request::new(req)).await.unwrap().into_inner();
        assert!(resp.diagnostics[0].summary.contains("Invalid proposed state"));
        let resp = s
            .read_data_source(Request::new(pb::read_data_source::Request {
                type_name: "x".into(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(resp.diagnostics[0].summary.contains("Unknown data source type"));
    }

    #[tokio::test]
    async fn functions_are_listed_and_called() {
        let s = svc();
        let fns = s.get_functions(Request::new(pb::get_functions::Request {})).await.unwrap().into_inner();
        assert!(fns.functions.contains_key("echo"));
        let arg = |v: &str| pb::DynamicValue {
            msgpack: codec::to_msgpack(&Value::string(v), &Type::String).unwrap().into(),
            json: Default::default(),
        };
        let call = |a: Vec<pb::DynamicValue>| pb::call_function::Request { name: "echo".into(), arguments: a };
        let ok = s.call_function(Request::new(call(vec![arg("hi")]))).await.unwrap().into_inner();
        assert_eq!(codec::from_msgpack(&ok.result.unwrap().msgpack, &Type::String).unwrap(), Value::string("hi"));
        let bad = s.call_function(Request::new(call(vec![arg("")]))).await.unwrap().into_inner();
        assert_eq!(bad.error.unwrap().function_argument, Some(0));
        let arity = s.call_function(Request::new(call(vec![]))).await.unwrap().into_inner();
        assert!(arity.error.unwrap().text.contains("takes 1 arguments"));
    }

    #[tokio::test]
    async fn read_passes_private_state_through() {
        let state = thing(Value::string("a"), Value::string("thing-1"));
        let req = pb::read_resource::Request {
            type_name: "test_thing".into(),
            current_state: dv(&state),
            private: b"keep".to_vec(),
            ..Default::default()
        };
        let resp = svc().read_resource(Request::new(req)).await.unwrap().into_inner();
        assert_eq!(resp.private, b"keep");
        assert_eq!(undv(resp.new_state), state);
    }

    fn move_req(target: &str, source_type: &str, json: &[u8]) -> pb::move_resource_state::Request {
        pb::move_resource_state::Request {
            source_provider_address: "registry.terraform.io/example/old".into(),
            source_type_name: source_type.into(),
            source_schema_version: 3,
            source_state: Some(pb::RawState { json: json.to_vec().into(), flatmap: Default::default() }),
            target_type_name: target.into(),
            source_private: b"old-private".to_vec(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn moves_are_advertised_and_converted_by_the_target_type() {
        let s = svc();
        let schema = s.get_schema(Request::new(Default::default())).await.unwrap().into_inner();
        assert!(schema.server_capabilities.unwrap().move_resource_state, "GetProviderSchema advertises moves");
        let meta = s.get_metadata(Request::new(Default::default())).await.unwrap().into_inner();
        assert!(meta.server_capabilities.unwrap().move_resource_state);

        let ok = s
            .move_resource_state(Request::new(move_req("test_thing", "old_thing", br#"{"title":"a"}"#)))
            .await
            .unwrap()
            .into_inner();
        assert!(ok.diagnostics.is_empty(), "{:?}", ok.diagnostics);
        assert_eq!(undv(ok.target_state), thing(Value::string("a"), Value::string("thing-1")));
        assert_eq!(ok.target_private, b"old-private");

        let refused = s
            .move_resource_state(Request::new(move_req("test_thing", "other", br#"{"title":"a"}"#)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(refused.diagnostics[0].summary, "no");
        assert!(refused.target_state.is_none());
    }

    #[tokio::test]
    async fn moves_into_types_without_support_or_without_json_are_diagnostics() {
        let service = svc();
        let s = &service;
        let call = |r| async move { s.move_resource_state(Request::new(r)).await.unwrap().into_inner() };
        let plain = call(move_req("test_plain", "old_thing", br#"{"title":"a"}"#)).await;
        assert!(plain.diagnostics[0].summary.contains("not supported"), "{:?}", plain.diagnostics);
        assert!(plain.diagnostics[0].detail.contains("registry.terraform.io/example/old"));
        let unknown = call(move_req("test_nope", "old_thing", b"{}")).await;
        assert!(unknown.diagnostics[0].summary.contains("Unknown resource type"));
        let empty = call(move_req("test_thing", "old_thing", b"")).await;
        assert!(empty.diagnostics[0].summary.contains("Cannot move"));
    }
}
