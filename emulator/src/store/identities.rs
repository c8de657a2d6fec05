//! User-assigned managed identities and their federated identity credentials
//! (Microsoft.ManagedIdentity 2023-01-31).

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::*;
use crate::errors::ArmError;
use crate::ids::Scope;

pub const UAMI_TYPE: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";
pub const UAMI_READ: &str = "Microsoft.ManagedIdentity/userAssignedIdentities/read";
pub const UAMI_WRITE: &str = "Microsoft.ManagedIdentity/userAssignedIdentities/write";
pub const UAMI_DELETE: &str = "Microsoft.ManagedIdentity/userAssignedIdentities/delete";
pub const FIC_READ: &str = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read";
pub const FIC_WRITE: &str = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write";
pub const FIC_DELETE: &str = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete";

/// Address of one identity: subscription, resource group and name as sent.
#[derive(Debug, Clone)]
pub struct IdentityRef {
    pub sub: String,
    pub rg: String,
    pub name: String,
}

impl IdentityRef {
    pub fn scope(&self) -> Scope {
        Scope::Resource {
            sub: self.sub.clone(),
            rg: self.rg.clone(),
            namespace: "Microsoft.ManagedIdentity".into(),
            types: vec![("userAssignedIdentities".into(), self.name.clone())],
        }
    }

    /// The id in the casing the request used.
    pub fn display(&self) -> String {
        self.scope().display()
    }

    pub fn fic_display(&self, fic: &str) -> String {
        format!("{}/federatedIdentityCredentials/{fic}", self.display())
    }
}

/// Writable FIC properties.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FicRequest {
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub audiences: Option<Vec<String>>,
}

fn valid_name_chars(rest: &str) -> bool {
    rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `^[a-zA-Z0-9]{1}[a-zA-Z0-9-_]{2,119}$`
pub fn validate_fic_name(name: &str) -> Result<(), ArmError> {
    let ok = (3..=120).contains(&name.len())
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && valid_name_chars(name);
    if ok {
        Ok(())
    } else {
        Err(ArmError::bad_request("BadRequest", format!("Federated Identity Credential name '{name}' is invalid.")))
    }
}

/// UAMI names: 3–128 characters, letters, digits, `-` and `_`, starting with a letter or digit.
pub fn validate_identity_name(name: &str) -> Result<(), ArmError> {
    let ok = (3..=128).contains(&name.len())
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && valid_name_chars(name);
    if ok {
        Ok(())
    } else {
        Err(ArmError::bad_request(
            "InvalidResourceName",
            format!(
                "Resource name '{name}' is invalid. The name can be 3-128 characters long, must begin with a letter or number, and may contain letters, numbers, hyphens and underscores."
            ),
        ))
    }
}

fn fic_not_found(name: &str) -> ArmError {
    ArmError::not_found("NotFound", format!("The federated identity credential '{name}' does not exist."))
}

fn parent_missing() -> ArmError {
    ArmError::not_found("ParentResourceNotFound", "The parent user-assigned identity doesn't exist.")
}

impl Store {
    fn identity_pos(&self, r: &IdentityRef) -> Option<usize> {
        let k = r.scope().key();
        self.state.identities.iter().position(|i| ids::key(&i.id()) == k)
    }

    /// PUT an identity: (201, created) or (200, updated).
    pub fn put_identity(
        &mut self,
        caller: &Caller,
        r: &IdentityRef,
        location: Option<String>,
        tags: Option<Map<String, Value>>,
        now: OffsetDateTime,
    ) -> Result<(u16, Identity), ArmError> {
        let scope = r.scope();
        self.authorize(caller, UAMI_WRITE, &scope, &r.display())?;
        self.check_subscription(&r.sub)?;
        self.check_resource_group(&r.sub, &r.rg)?;
        validate_identity_name(&r.name)?;
        let location = location.filter(|l| !l.trim().is_empty()).ok_or_else(|| {
            ArmError::bad_request("LocationRequired", "The location property is required for this definition.")
        })?;
        if let Some(i) = self.identity_pos(r) {
            let ident = &mut self.state.identities[i];
            if !same_location(&ident.location, &location) {
                return Err(ArmError::bad_request(
                    "InvalidResourceLocation",
                    format!(
                        "The resource '{}' already exists in location '{}' in resource group '{}'. A resource with the same name cannot be created in location '{location}'. Please select a new resource name.",
                        ident.name, ident.location, ident.resource_group
                    ),
                ));
            }
            ident.tags = tags.unwrap_or_default();
            return Ok((200, ident.clone()));
        }
        let sub = self.subscription(&r.sub).cloned().ok_or_else(|| {
            ArmError::not_found("SubscriptionNotFound", format!("The subscription '{}' could not be found.", r.sub))
        })?;
        let rg = self.resource_group(&r.sub, &r.rg).map(|g| g.name.clone()).unwrap_or_else(|| r.rg.clone());
        let ident = Identity {
            subscription: sub.id.clone(),
            resource_group: rg,
            name: r.name.clone(),
            location,
            tags: tags.unwrap_or_default(),
            principal_id: uuid::Uuid::new_v4().to_string(),
            client_id: uuid::Uuid::new_v4().to_string(),
            tenant_id: sub.tenant_id.clone(),
            fics: Vec::new(),
        };
        let available_at = crate::util::add_secs(now, self.settings().principal_replication_delay_secs);
        self.state.principals.push(Principal {
            object_id: ident.principal_id.clone(),
            kind: PrincipalKind::ManagedIdentity,
            display_name: ident.name.clone(),
            tenant_id: ident.tenant_id.clone(),
            app_id: Some(ident.client_id.clone()),
            secrets: Vec::new(),
            federated: Vec::new(),
            identity_resource_id: Some(ident.id()),
            available_at,
        });
        self.state.identities.push(ident.clone());
        Ok((201, ident))
    }

    /// PATCH (tags; location must not change).
    pub fn patch_identity(
        &mut self,
        caller: &Caller,
        r: &IdentityRef,
        location: Option<String>,
        tags: Option<Map<String, Value>>,
    ) -> Result<Identity, ArmError> {
        let scope = r.scope();
        self.authorize(caller, UAMI_WRITE, &scope, &r.display())?;
        self.check_scope_exists(&scope)?;
        let i = self.identity_pos(r).ok_or_else(|| resource_not_found(&scope))?;
        let ident = &mut self.state.identities[i];
        if let Some(l) = location {
            if !same_location(&ident.location, &l) {
                return Err(ArmError::bad_request(
                    "InvalidResourceLocation",
                    format!("The location of identity '{}' cannot be changed.", ident.name),
                ));
            }
        }
        if let Some(t) = tags {
            ident.tags = t;
        }
        Ok(ident.clone())
    }

    pub fn get_identity(&self, caller: &Caller, r: &IdentityRef) -> Result<Identity, ArmError> {
        let scope = r.scope();
        self.authorize(caller, UAMI_READ, &scope, &r.display())?;
        self.check_scope_exists(&scope)?;
        self.identity_pos(r).map(|i| self.state.identities[i].clone()).ok_or_else(|| resource_not_found(&scope))
    }

    /// DELETE: `Some` = deleted (200), `None` = absent (204). The principal leaves the
    /// directory; role assignments that reference it stay (as in Azure).
    pub fn delete_identity(&mut self, caller: &Caller, r: &IdentityRef) -> Result<Option<Identity>, ArmError> {
        let scope = r.scope();
        self.authorize(caller, UAMI_DELETE, &scope, &r.display())?;
        self.check_subscription(&r.sub)?;
        self.check_resource_group(&r.sub, &r.rg)?;
        let Some(i) = self.identity_pos(r) else {
            return Ok(None);
        };
        let ident = self.state.identities.remove(i);
        self.state.principals.retain(|p| !p.object_id.eq_ignore_ascii_case(&ident.principal_id));
        Ok(Some(ident))
    }

    /// List identities in a resource group, or in a subscription when `rg` is `None`.
    pub fn list_identities(&self, caller: &Caller, sub: &str, rg: Option<&str>) -> Result<Vec<Identity>, ArmError> {
        let scope = match rg {
            Some(rg) => Scope::ResourceGroup { sub: sub.into(), rg: rg.into() },
            None => Scope::Subscription { sub: sub.into() },
        };
        self.authorize(caller, UAMI_READ, &scope, &format!("{}/providers/{UAMI_TYPE}", scope.display()))?;
        self.check_scope_exists(&scope)?;
        Ok(self
            .state
            .identities
            .iter()
            .filter(|i| i.subscription.eq_ignore_ascii_case(sub))
            .filter(|i| rg.is_none_or(|rg| i.resource_group.eq_ignore_ascii_case(rg)))
            .cloned()
            .collect())
    }

    fn fic_parent(&self, r: &IdentityRef) -> Result<usize, ArmError> {
        self.check_subscription(&r.sub)?;
        self.check_resource_group(&r.sub, &r.rg)?;
        self.identity_pos(r).ok_or_else(parent_missing)
    }

    /// Authorization for FIC writes, checked before the in-flight write slot is taken.
    pub fn authorize_fic_write(
        &self,
        caller: &Caller,
        r: &IdentityRef,
        fic: &str,
        delete: bool,
    ) -> Result<(), ArmError> {
        let action = if delete { FIC_DELETE } else { FIC_WRITE };
        self.authorize(caller, action, &r.scope(), &r.fic_display(fic))
    }

    /// PUT a FIC: (201|200, fic). Authorization is checked by [`Store::authorize_fic_write`].
    pub fn put_fic(&mut self, r: &IdentityRef, name: &str, req: FicRequest) -> Result<(u16, Fic), ArmError> {
        validate_fic_name(name)?;
        let idx = self.fic_parent(r)?;
        let (issuer, subject, audiences) = match (req.issuer, req.subject, req.audiences) {
            (Some(i), Some(s), Some(a)) if !i.trim().is_empty() && !s.trim().is_empty() && !a.is_empty() => (i, s, a),
            _ => {
                return Err(ArmError::bad_request(
                    "BadRequest",
                    "Federated Identity Credential from HTTP body has empty properties",
                ))
            }
        };
        if audiences.len() != 1 {
            return Err(ArmError::bad_request(
                "BadRequest",
                "Federated identity credentials must have exactly one audience.",
            ));
        }
        if !issuer.starts_with("https://") {
            return Err(ArmError::bad_request(
                "BadRequest",
                format!("The issuer '{issuer}' is not a valid https URL."),
            ));
        }
        let max = self.settings().max_fics_per_identity;
        let ident = &mut self.state.identities[idx];
        if ident.fics.iter().any(|f| !f.name.eq_ignore_ascii_case(name) && f.issuer == issuer && f.subject == subject) {
            return Err(ArmError::bad_request(
                "BadRequest",
                "Issuer and subject combination already exists for this Managed Identity.",
            ));
        }
        let fic = Fic { name: name.to_string(), issuer, subject, audiences };
        if let Some(existing) = ident.fics.iter_mut().find(|f| f.name.eq_ignore_ascii_case(name)) {
            let keep_name = existing.name.clone();
            *existing = Fic { name: keep_name, ..fic };
            return Ok((200, existing.clone()));
        }
        if ident.fics.len() >= max {
            return Err(ArmError::bad_request(
                "BadRequest",
                format!("The maximum number of federated identity credentials ({max}) for this managed identity has been reached."),
            ));
        }
        ident.fics.push(fic.clone());
        Ok((201, fic))
    }

    pub fn get_fic(&self, caller: &Caller, r: &IdentityRef, name: &str) -> Result<(Identity, Fic), ArmError> {
        self.authorize(caller, FIC_READ, &r.scope(), &r.fic_display(name))?;
        let idx = self.fic_parent(r)?;
        let ident = &self.state.identities[idx];
        ident
            .fics
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| (ident.clone(), f.clone()))
            .ok_or_else(|| fic_not_found(name))
    }

    /// DELETE a FIC: `Some` (200) or `None` (204).
    pub fn delete_fic(&mut self, r: &IdentityRef, name: &str) -> Result<Option<Fic>, ArmError> {
        let idx = self.fic_parent(r)?;
        let ident = &mut self.state.identities[idx];
        let pos = ident.fics.iter().position(|f| f.name.eq_ignore_ascii_case(name));
        Ok(pos.map(|p| ident.fics.remove(p)))
    }

    pub fn list_fics(&self, caller: &Caller, r: &IdentityRef) -> Result<Identity, ArmError> {
        self.authorize(caller, FIC_READ, &r.scope(), &format!("{}/federatedIdentityCredentials", r.display()))?;
        let idx = self.fic_parent(r)?;
        Ok(self.state.identities[idx].clone())
    }
}

/// Locations compare without case and spaces (`West Europe` == `westeurope`).
fn same_location(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    norm(a) == norm(b)
}
