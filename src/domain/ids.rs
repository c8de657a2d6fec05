//! Azure Resource Manager (ARM) resource ids as a typed model.
//!
//! ARM treats ids case-insensitively ("resource group names and resource
//! names should be matched case insensitively"), and services really do
//! return other casings than the user wrote: AKS reports its kubelet identity
//! under `/resourcegroups/MC_…`, some APIs echo `microsoft.managedidentity`.
//! A [`ResourceId`] therefore carries three views of one id:
//!
//! * [`ResourceId::as_str`] / `Display`: exactly what the user (or the API)
//!   wrote. This is what goes into Terraform state; never rewrite it.
//! * [`ResourceId::canonical`]: fixed segments (`subscriptions`,
//!   `resourceGroups`, `providers`), well-known provider namespaces and
//!   resource types in their documented casing; user-chosen names verbatim
//!   (except subscription GUIDs, which are lowercased). Use it when building
//!   request URLs or ids of our own.
//! * [`ResourceId::key`]: the canonical form fully lowercased. Equality and
//!   hashing use it, so two ids that differ only in case are equal.
//!
//! Shapes understood (`<scope>` is any of them):
//!
//! | kind | shape |
//! |---|---|
//! | tenant | `/` |
//! | management group | `/providers/Microsoft.Management/managementGroups/{name}` |
//! | subscription | `/subscriptions/{id}` |
//! | resource group | `/subscriptions/{id}/resourceGroups/{name}` |
//! | resource | `/subscriptions/{id}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{type}/{name}…]` |
//! | extension | `<scope>/providers/{ns}/{type}/{name}[/{type}/{name}…]` |
//!
//! An *extension* resource lives on top of another scope: a role assignment
//! at a subnet, a role definition at the tenant or at a subscription, any
//! provider resource at subscription level. Directly under a resource group
//! the text alone cannot tell a resource from an extension, so a small table
//! decides: `Microsoft.Authorization/*`, `Microsoft.Insights/diagnosticSettings`
//! and `Microsoft.Resources/tags` are extensions there, anything else is a
//! resource.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// The example shown in every parse error.
const EXPECTED: &str = "/subscriptions/<id>/resourceGroups/<name>/providers/<Namespace>/<type>/<name>";

const SUBSCRIPTIONS: &str = "subscriptions";
const RESOURCE_GROUPS: &str = "resourceGroups";
const PROVIDERS: &str = "providers";
const MANAGEMENT_NAMESPACE: &str = "Microsoft.Management";
const MANAGEMENT_GROUPS: &str = "managementGroups";
const RESOURCES_NAMESPACE: &str = "Microsoft.Resources";

/// Provider namespaces this domain meets, in their documented casing.
/// Unknown namespaces keep the casing they were written in.
const KNOWN_NAMESPACES: &[&str] = &[
    "Microsoft.Authorization",
    "Microsoft.Compute",
    "Microsoft.ContainerRegistry",
    "Microsoft.ContainerService",
    "Microsoft.DocumentDB",
    "Microsoft.EventHub",
    "Microsoft.Insights",
    "Microsoft.KeyVault",
    "Microsoft.ManagedIdentity",
    "Microsoft.Management",
    "Microsoft.Network",
    "Microsoft.OperationalInsights",
    "Microsoft.Resources",
    "Microsoft.ServiceBus",
    "Microsoft.Storage",
];

/// Resource types this domain meets, in their documented casing. Looked up
/// regardless of namespace; unknown types keep the casing they were written in.
const KNOWN_TYPES: &[&str] = &[
    // Microsoft.Network
    "virtualNetworks",
    "subnets",
    "routeTables",
    "networkSecurityGroups",
    "privateEndpoints",
    "publicIPAddresses",
    "loadBalancers",
    "networkInterfaces",
    "natGateways",
    "applicationGateways",
    "privateDnsZones",
    "virtualNetworkLinks",
    "dnsZones",
    // Microsoft.ContainerRegistry / ContainerService / Compute
    "registries",
    "managedClusters",
    "agentPools",
    "virtualMachines",
    "virtualMachineScaleSets",
    // Microsoft.ManagedIdentity
    "userAssignedIdentities",
    "federatedIdentityCredentials",
    // Microsoft.Storage
    "storageAccounts",
    "blobServices",
    "containers",
    "fileServices",
    "queueServices",
    "tableServices",
    // Microsoft.ServiceBus / EventHub
    "namespaces",
    "topics",
    "eventhubs",
    // Microsoft.KeyVault / DocumentDB
    "vaults",
    "databaseAccounts",
    // Microsoft.Authorization / Management / Insights
    "roleAssignments",
    "roleDefinitions",
    "policyAssignments",
    "locks",
    "managementGroups",
    "diagnosticSettings",
];

/// (namespace, type) pairs that are extension resources when they appear
/// directly under a resource group; `None` means every type of the namespace.
const RESOURCE_GROUP_EXTENSIONS: &[(&str, Option<&str>)] = &[
    ("Microsoft.Authorization", None),
    ("Microsoft.Insights", Some("diagnosticSettings")),
    ("Microsoft.Resources", Some("tags")),
];

/// An ARM resource id: the text as written plus its parsed structure.
///
/// Equality, ordering-free hashing and [`ResourceId::is_ancestor_of`] are
/// case-insensitive (they use [`ResourceId::key`]); `Display` prints the
/// original text unchanged.
#[derive(Debug, Clone)]
pub struct ResourceId {
    original: String,
    scope: Scope,
    key: String,
}

/// The parsed structure of a [`ResourceId`].
///
/// Names (subscription id, resource group, resource names) are kept exactly
/// as written. Provider namespaces and resource types are stored in their
/// canonical casing when they are well known, otherwise as written.
#[derive(Debug, Clone)]
pub enum Scope {
    /// `/`
    Tenant,
    /// `/providers/Microsoft.Management/managementGroups/{name}`
    ManagementGroup { name: String },
    /// `/subscriptions/{subscription_id}`
    Subscription { subscription_id: String },
    /// `/subscriptions/{subscription_id}/resourceGroups/{resource_group}`
    ResourceGroup { subscription_id: String, resource_group: String },
    /// `/subscriptions/{id}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{type}/{name}…]`;
    /// `types` holds the (type, name) pairs, outermost first.
    Resource {
        subscription_id: String,
        resource_group: String,
        provider_namespace: String,
        types: Vec<(String, String)>,
    },
    /// `{parent}/providers/{ns}/{type}/{name}[/{type}/{name}…]`: a resource
    /// that extends another scope (role assignments, role definitions,
    /// subscription-level provider resources, …).
    Extension { parent: Box<ResourceId>, provider_namespace: String, types: Vec<(String, String)> },
}

/// The kind of a [`Scope`], without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeKind {
    Tenant,
    ManagementGroup,
    Subscription,
    ResourceGroup,
    Resource,
    Extension,
}

impl Scope {
    pub fn kind(&self) -> ScopeKind {
        match self {
            Scope::Tenant => ScopeKind::Tenant,
            Scope::ManagementGroup { .. } => ScopeKind::ManagementGroup,
            Scope::Subscription { .. } => ScopeKind::Subscription,
            Scope::ResourceGroup { .. } => ScopeKind::ResourceGroup,
            Scope::Resource { .. } => ScopeKind::Resource,
            Scope::Extension { .. } => ScopeKind::Extension,
        }
    }
}

/// Why a string is not a resource id. The message shows the expected shape
/// and the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an Azure resource id like {EXPECTED}, got {input:?}: {reason}")]
pub struct IdError {
    input: String,
    reason: IdErrorReason,
}

impl IdError {
    fn new(input: &str, reason: IdErrorReason) -> Self {
        IdError { input: input.to_string(), reason }
    }

    /// The text that failed to parse.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What was wrong with it.
    pub fn reason(&self) -> &IdErrorReason {
        &self.reason
    }
}

/// The specific problem behind an [`IdError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdErrorReason {
    #[error("the id is empty")]
    Empty,
    #[error("an id must start with \"/\"")]
    MissingLeadingSlash,
    #[error("it contains whitespace or a control character at byte {0}")]
    Whitespace(usize),
    #[error("it contains {0:?}, which is not part of a resource id (is this a URL with a query string?)")]
    ForbiddenCharacter(char),
    #[error("it contains an empty segment (\"//\")")]
    EmptySegment,
    #[error("{after:?} must be followed by {expected}")]
    MissingSegment { after: String, expected: &'static str },
    #[error("unexpected segment {found:?} {position}; expected {expected}")]
    UnexpectedSegment { found: String, position: &'static str, expected: &'static str },
    #[error("{found:?} is not a provider namespace; expected one like Microsoft.Network")]
    InvalidNamespace { found: String },
    #[error(
        "resource type {resource_type:?} has no name after it; under a provider namespace types and names \
         alternate: <type>/<name>[/<type>/<name>...]"
    )]
    UnpairedType { resource_type: String },
}

impl ResourceId {
    /// Parses an ARM resource id.
    ///
    /// Fixed segments (`subscriptions`, `resourceGroups`, `providers`),
    /// provider namespaces and resource types match in any casing; a single
    /// trailing slash is allowed. Empty segments, a missing leading slash,
    /// whitespace, query strings and types without names are rejected.
    pub fn parse(input: &str) -> Result<ResourceId, IdError> {
        let err = |reason| IdError::new(input, reason);
        if input.is_empty() {
            return Err(err(IdErrorReason::Empty));
        }
        if let Some((at, _)) = input.char_indices().find(|(_, c)| c.is_whitespace() || c.is_control()) {
            return Err(err(IdErrorReason::Whitespace(at)));
        }
        if let Some(c) = input.chars().find(|c| matches!(c, '?' | '#')) {
            return Err(err(IdErrorReason::ForbiddenCharacter(c)));
        }
        let Some(body) = input.strip_prefix('/') else {
            return Err(err(IdErrorReason::MissingLeadingSlash));
        };
        if body.is_empty() {
            return Ok(ResourceId::build(input.to_string(), Scope::Tenant));
        }
        let body = body.strip_suffix('/').unwrap_or(body);
        let segs: Vec<&str> = body.split('/').collect();
        if segs.iter().any(|s| s.is_empty()) {
            return Err(err(IdErrorReason::EmptySegment));
        }
        parse_segments(input, &segs)
    }

    fn build(original: String, scope: Scope) -> ResourceId {
        let key = render(&scope).to_lowercase();
        ResourceId { original, scope, key }
    }

    /// The id exactly as written.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The parsed structure.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    pub fn scope_kind(&self) -> ScopeKind {
        self.scope.kind()
    }

    /// Canonical casing of fixed segments, well-known namespaces and types;
    /// names as written except subscription GUIDs (lowercased); no trailing
    /// slash (the tenant root is `/`).
    pub fn canonical(&self) -> String {
        render(&self.scope)
    }

    /// The canonical form fully lowercased: the identity used for equality
    /// and hashing.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The subscription id as written; `None` at tenant and management-group
    /// level.
    pub fn subscription_id(&self) -> Option<&str> {
        match &self.scope {
            Scope::Subscription { subscription_id }
            | Scope::ResourceGroup { subscription_id, .. }
            | Scope::Resource { subscription_id, .. } => Some(subscription_id),
            Scope::Extension { parent, .. } => parent.subscription_id(),
            Scope::Tenant | Scope::ManagementGroup { .. } => None,
        }
    }

    /// The resource group name as written, if the id is within one.
    pub fn resource_group(&self) -> Option<&str> {
        match &self.scope {
            Scope::ResourceGroup { resource_group, .. } | Scope::Resource { resource_group, .. } => {
                Some(resource_group)
            }
            Scope::Extension { parent, .. } => parent.resource_group(),
            _ => None,
        }
    }

    /// The provider namespace of the resource this id names (the last
    /// `/providers/{ns}`), in canonical casing when well known.
    /// Subscriptions and resource groups report `Microsoft.Resources`,
    /// management groups `Microsoft.Management`, the tenant `None`.
    pub fn provider_namespace(&self) -> Option<&str> {
        match &self.scope {
            Scope::Tenant => None,
            Scope::ManagementGroup { .. } => Some(MANAGEMENT_NAMESPACE),
            Scope::Subscription { .. } | Scope::ResourceGroup { .. } => Some(RESOURCES_NAMESPACE),
            Scope::Resource { provider_namespace, .. } | Scope::Extension { provider_namespace, .. } => {
                Some(provider_namespace)
            }
        }
    }

    /// The full resource type, e.g. `Microsoft.Network/virtualNetworks/subnets`
    /// or `Microsoft.Authorization/roleAssignments`; subscriptions and
    /// resource groups are `Microsoft.Resources/subscriptions` and
    /// `Microsoft.Resources/resourceGroups`; the tenant has none.
    pub fn resource_type(&self) -> Option<String> {
        match &self.scope {
            Scope::Tenant => None,
            Scope::ManagementGroup { .. } => Some(format!("{MANAGEMENT_NAMESPACE}/{MANAGEMENT_GROUPS}")),
            Scope::Subscription { .. } => Some(format!("{RESOURCES_NAMESPACE}/{SUBSCRIPTIONS}")),
            Scope::ResourceGroup { .. } => Some(format!("{RESOURCES_NAMESPACE}/{RESOURCE_GROUPS}")),
            Scope::Resource { provider_namespace, types, .. } | Scope::Extension { provider_namespace, types, .. } => {
                let mut out = provider_namespace.clone();
                for (t, _) in types {
                    out.push('/');
                    out.push_str(t);
                }
                Some(out)
            }
        }
    }

    /// The last name in the id (a subscription's is its id); `None` for the
    /// tenant.
    pub fn name(&self) -> Option<&str> {
        match &self.scope {
            Scope::Tenant => None,
            Scope::ManagementGroup { name } => Some(name),
            Scope::Subscription { subscription_id } => Some(subscription_id),
            Scope::ResourceGroup { resource_group, .. } => Some(resource_group),
            Scope::Resource { types, .. } | Scope::Extension { types, .. } => types.last().map(|(_, n)| n.as_str()),
        }
    }

    /// The enclosing id, keeping the original text's casing: subnet → VNet,
    /// resource → resource group, resource group → subscription,
    /// subscription or management group → tenant, extension → the scope it
    /// extends (or its own parent type, when nested). `None` for the tenant.
    ///
    /// Ids do not say which management group a subscription belongs to, so
    /// a subscription's parent is the tenant.
    pub fn parent(&self) -> Option<ResourceId> {
        let drop = match &self.scope {
            Scope::Tenant => return None,
            Scope::ManagementGroup { .. } | Scope::Subscription { .. } => {
                return Some(ResourceId::build("/".to_string(), Scope::Tenant))
            }
            Scope::ResourceGroup { .. } => 2,
            Scope::Resource { types, .. } | Scope::Extension { types, .. } if types.len() > 1 => 2,
            Scope::Resource { .. } => 4,
            Scope::Extension { parent, .. } => return Some((**parent).clone()),
        };
        let segs: Vec<&str> = self.segments().collect();
        let kept = segs.len().saturating_sub(drop);
        ResourceId::parse(&format!("/{}", segs[..kept].join("/"))).ok()
    }

    /// For an extension resource (e.g. a role assignment), the scope it sits
    /// on; `None` for every other kind.
    pub fn extension_scope(&self) -> Option<&ResourceId> {
        match &self.scope {
            Scope::Extension { parent, .. } => Some(parent),
            _ => None,
        }
    }

    /// True if `other` lies strictly below this id in the ARM hierarchy,
    /// compared case-insensitively: the tenant is above everything, a
    /// subscription above its resource groups and their resources, a VNet
    /// above its subnets, any scope above the extension resources on it.
    /// Management-group membership of subscriptions is not visible in ids,
    /// so a management group is only above ids that start with it.
    pub fn is_ancestor_of(&self, other: &ResourceId) -> bool {
        if matches!(self.scope, Scope::Tenant) {
            return !matches!(other.scope, Scope::Tenant);
        }
        other.key.strip_prefix(self.key.as_str()).is_some_and(|rest| rest.starts_with('/'))
    }

    /// `self == other || self.is_ancestor_of(other)`.
    pub fn is_same_or_ancestor_of(&self, other: &ResourceId) -> bool {
        self == other || self.is_ancestor_of(other)
    }

    /// Segments of the original text, without the leading and (optional)
    /// trailing slash.
    fn segments(&self) -> impl Iterator<Item = &str> {
        let body = self.original.strip_prefix('/').unwrap_or(&self.original);
        let body = body.strip_suffix('/').unwrap_or(body);
        body.split('/').filter(|s| !s.is_empty())
    }
}

/// Parses the non-empty segments of `input` (leading/trailing slash removed): a root scope,
/// then any number of `providers/{namespace}/{type}/{name}…` sections, each nested in the
/// scope before it.
fn parse_segments(input: &str, segs: &[&str]) -> Result<ResourceId, IdError> {
    let (mut current, mut i) = parse_root(input, segs)?;
    while i < segs.len() {
        let section = parse_provider_section(input, segs, i)?;
        current = nest(current, &segs[..i], section.namespace, section.types);
        i = section.end;
    }
    Ok(ResourceId::build(input.to_string(), current))
}

/// The scope the id starts with (tenant, subscription or resource group) and the index of
/// the first segment after it.
fn parse_root(input: &str, segs: &[&str]) -> Result<(Scope, usize), IdError> {
    let err = |reason| IdError::new(input, reason);
    if segs[0].eq_ignore_ascii_case(PROVIDERS) {
        return Ok((Scope::Tenant, 0));
    }
    if !segs[0].eq_ignore_ascii_case(SUBSCRIPTIONS) {
        return Err(err(IdErrorReason::UnexpectedSegment {
            found: segs[0].to_string(),
            position: "at the start",
            expected: "\"subscriptions\" or \"providers\"",
        }));
    }
    let Some(sub) = segs.get(1) else {
        return Err(err(IdErrorReason::MissingSegment { after: segs[0].to_string(), expected: "a subscription id" }));
    };
    match segs.get(2) {
        Some(s) if s.eq_ignore_ascii_case(RESOURCE_GROUPS) => {
            let Some(rg) = segs.get(3) else {
                return Err(err(IdErrorReason::MissingSegment {
                    after: s.to_string(),
                    expected: "a resource group name",
                }));
            };
            Ok((Scope::ResourceGroup { subscription_id: sub.to_string(), resource_group: rg.to_string() }, 4))
        }
        Some(s) if !s.eq_ignore_ascii_case(PROVIDERS) => Err(err(IdErrorReason::UnexpectedSegment {
            found: s.to_string(),
            position: "after the subscription id",
            expected: "\"resourceGroups\" or \"providers\"",
        })),
        _ => Ok((Scope::Subscription { subscription_id: sub.to_string() }, 2)),
    }
}

/// One `providers/{namespace}/{type}/{name}…` section of an id.
struct ProviderSection {
    /// In canonical casing when well known.
    namespace: String,
    /// `(type, name)` pairs, types in canonical casing when well known; never empty.
    types: Vec<(String, String)>,
    /// Index of the first segment after the section.
    end: usize,
}

/// The section starting at `segs[start]`, which must be `providers`; it runs to the next
/// `providers` or the end.
fn parse_provider_section(input: &str, segs: &[&str], start: usize) -> Result<ProviderSection, IdError> {
    let err = |reason| IdError::new(input, reason);
    if !segs[start].eq_ignore_ascii_case(PROVIDERS) {
        return Err(err(IdErrorReason::UnexpectedSegment {
            found: segs[start].to_string(),
            position: "after the resource group name",
            expected: "\"providers\"",
        }));
    }
    let Some(ns) = segs.get(start + 1) else {
        return Err(err(IdErrorReason::MissingSegment {
            after: segs[start].to_string(),
            expected: "a provider namespace such as Microsoft.Network",
        }));
    };
    if !looks_like_namespace(ns) {
        return Err(err(IdErrorReason::InvalidNamespace { found: ns.to_string() }));
    }
    let mut i = start + 2;
    let mut types = Vec::new();
    while i < segs.len() && !segs[i].eq_ignore_ascii_case(PROVIDERS) {
        let Some(name) = segs.get(i + 1) else {
            return Err(err(IdErrorReason::UnpairedType { resource_type: segs[i].to_string() }));
        };
        types.push((canonical_type(segs[i]), name.to_string()));
        i += 2;
    }
    if types.is_empty() {
        return Err(err(IdErrorReason::MissingSegment {
            after: ns.to_string(),
            expected: "a resource type and name, as in <Namespace>/<type>/<name>",
        }));
    }
    Ok(ProviderSection { namespace: canonical_namespace(ns), types, end: i })
}

/// The scope a provider section makes of the scope before it (`parent`, spelled by
/// `parent_segs`): a resource in a resource group, a management group under the tenant, or
/// else an extension resource on the parent.
fn nest(parent: Scope, parent_segs: &[&str], provider_namespace: String, mut types: Vec<(String, String)>) -> Scope {
    match parent {
        Scope::ResourceGroup { subscription_id, resource_group }
            if !is_resource_group_extension(&provider_namespace, &types[0].0) =>
        {
            Scope::Resource { subscription_id, resource_group, provider_namespace, types }
        }
        Scope::Tenant
            if provider_namespace == MANAGEMENT_NAMESPACE && types.len() == 1 && types[0].0 == MANAGEMENT_GROUPS =>
        {
            Scope::ManagementGroup { name: types.remove(0).1 }
        }
        parent => {
            let text = if parent_segs.is_empty() { "/".to_string() } else { format!("/{}", parent_segs.join("/")) };
            Scope::Extension { parent: Box::new(ResourceId::build(text, parent)), provider_namespace, types }
        }
    }
}

/// `Company.Service` style: a dot, not at either end.
fn looks_like_namespace(s: &str) -> bool {
    s.contains('.') && !s.starts_with('.') && !s.ends_with('.')
}

fn canonical_namespace(ns: &str) -> String {
    KNOWN_NAMESPACES.iter().find(|k| k.eq_ignore_ascii_case(ns)).map_or_else(|| ns.to_string(), |k| k.to_string())
}

fn canonical_type(t: &str) -> String {
    KNOWN_TYPES.iter().find(|k| k.eq_ignore_ascii_case(t)).map_or_else(|| t.to_string(), |k| k.to_string())
}

fn is_resource_group_extension(ns: &str, first_type: &str) -> bool {
    RESOURCE_GROUP_EXTENSIONS
        .iter()
        .any(|(n, t)| n.eq_ignore_ascii_case(ns) && t.is_none_or(|t| t.eq_ignore_ascii_case(first_type)))
}

/// 8-4-4-4-12 hex digits, either case.
fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn canonical_subscription(id: &str) -> String {
    if is_guid(id) {
        id.to_ascii_lowercase()
    } else {
        id.to_string()
    }
}

fn push_provider(out: &mut String, ns: &str, types: &[(String, String)]) {
    out.push_str("/providers/");
    out.push_str(ns);
    for (t, n) in types {
        out.push('/');
        out.push_str(t);
        out.push('/');
        out.push_str(n);
    }
}

/// The canonical text of a scope.
fn render(scope: &Scope) -> String {
    let mut out = String::new();
    render_into(scope, &mut out);
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Appends the canonical text of `scope`; the tenant appends nothing.
fn render_into(scope: &Scope, out: &mut String) {
    match scope {
        Scope::Tenant => {}
        Scope::ManagementGroup { name } => {
            out.push_str("/providers/");
            out.push_str(MANAGEMENT_NAMESPACE);
            out.push('/');
            out.push_str(MANAGEMENT_GROUPS);
            out.push('/');
            out.push_str(name);
        }
        Scope::Subscription { subscription_id } => {
            out.push_str("/subscriptions/");
            out.push_str(&canonical_subscription(subscription_id));
        }
        Scope::ResourceGroup { subscription_id, resource_group } => {
            out.push_str("/subscriptions/");
            out.push_str(&canonical_subscription(subscription_id));
            out.push_str("/resourceGroups/");
            out.push_str(resource_group);
        }
        Scope::Resource { subscription_id, resource_group, provider_namespace, types } => {
            out.push_str("/subscriptions/");
            out.push_str(&canonical_subscription(subscription_id));
            out.push_str("/resourceGroups/");
            out.push_str(resource_group);
            push_provider(out, provider_namespace, types);
        }
        Scope::Extension { parent, provider_namespace, types } => {
            render_into(&parent.scope, out);
            push_provider(out, provider_namespace, types);
        }
    }
}

impl PartialEq for ResourceId {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for ResourceId {}

impl Hash for ResourceId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl FromStr for ResourceId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ResourceId::parse(s)
    }
}

impl TryFrom<&str> for ResourceId {
    type Error = IdError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        ResourceId::parse(s)
    }
}

impl AsRef<str> for ResourceId {
    fn as_ref(&self) -> &str {
        &self.original
    }
}

/// The comparison key of an ARM id: equal keys name the same Azure object. Text that is not
/// an id compares trimmed of a trailing slash, case-insensitively.
pub fn id_key(id: &str) -> String {
    let id = id.trim();
    match ResourceId::parse(id) {
        Ok(x) => x.key().to_string(),
        Err(_) => if id.len() > 1 { id.trim_end_matches('/') } else { id }.to_ascii_lowercase(),
    }
}

/// Two ids name the same Azure object (case-insensitive on ARM's terms, trailing slash ignored).
pub fn same_id(a: &str, b: &str) -> bool {
    id_key(a) == id_key(b)
}

/// The subscription an ARM scope belongs to (lowercase), if any.
pub fn subscription_of(scope: &str) -> Option<String> {
    let mut parts = scope.split('/').filter(|p| !p.is_empty());
    match (parts.next(), parts.next()) {
        (Some(kw), Some(sub)) if kw.eq_ignore_ascii_case("subscriptions") => Some(sub.to_ascii_lowercase()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    const SUB: &str = "00000000-0000-0000-0000-000000000001";
    const VNET: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-spoke-1/providers/Microsoft.Network/virtualNetworks/vnet";
    const SUBNET: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-spoke-1/providers/Microsoft.Network/virtualNetworks/vnet/subnets/aks";
    const ROLE_ASSIGNMENT_GUID: &str = "05c5a614-a7d6-4502-b150-c2fb455033ff";

    fn id(s: &str) -> ResourceId {
        ResourceId::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(t, n)| (t.to_string(), n.to_string())).collect()
    }

    #[test]
    fn tenant() {
        let t = id("/");
        assert_eq!(t.scope_kind(), ScopeKind::Tenant);
        assert_eq!(t.canonical(), "/");
        assert_eq!(t.key(), "/");
        assert_eq!(t.subscription_id(), None);
        assert_eq!(t.name(), None);
        assert_eq!(t.resource_type(), None);
        assert!(t.parent().is_none());
    }

    #[test]
    fn subscription_and_resource_group() {
        let s = id("/subscriptions/00000000-0000-0000-0000-00000000000A");
        assert_eq!(s.scope_kind(), ScopeKind::Subscription);
        assert_eq!(s.subscription_id(), Some("00000000-0000-0000-0000-00000000000A"));
        assert_eq!(s.canonical(), "/subscriptions/00000000-0000-0000-0000-00000000000a");
        assert_eq!(s.resource_type().as_deref(), Some("Microsoft.Resources/subscriptions"));
        assert_eq!(s.parent().unwrap().scope_kind(), ScopeKind::Tenant);

        let rg = id("/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000001/RESOURCEGROUPS/My-RG/");
        assert_eq!(rg.scope_kind(), ScopeKind::ResourceGroup);
        assert_eq!(rg.resource_group(), Some("My-RG"));
        assert_eq!(rg.name(), Some("My-RG"));
        assert_eq!(rg.canonical(), format!("/subscriptions/{SUB}/resourceGroups/My-RG"));
        assert_eq!(rg.key(), format!("/subscriptions/{SUB}/resourcegroups/my-rg"));
        assert_eq!(rg.provider_namespace(), Some("Microsoft.Resources"));
        assert_eq!(rg.resource_type().as_deref(), Some("Microsoft.Resources/resourceGroups"));
        let parent = rg.parent().unwrap();
        assert_eq!(parent.as_str(), "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000001");
        assert_eq!(parent.scope_kind(), ScopeKind::Subscription);
    }

    #[test]
    fn non_guid_subscription_ids_keep_their_casing() {
        let s = id("/subscriptions/Sub-A/resourceGroups/rg");
        assert_eq!(s.canonical(), "/subscriptions/Sub-A/resourceGroups/rg");
        assert_eq!(s, id("/subscriptions/sub-a/resourcegroups/RG"));
    }

    #[test]
    fn lowercase_resource_groups_segment() {
        let a = id(&VNET.replace("resourceGroups", "resourcegroups"));
        assert_eq!(a.scope_kind(), ScopeKind::Resource);
        assert_eq!(a.canonical(), VNET);
        assert_eq!(a, id(VNET));
        // Display and as_str never rewrite the input.
        assert_eq!(a.to_string(), VNET.replace("resourceGroups", "resourcegroups"));
    }

    #[test]
    fn lowercase_namespace_and_types() {
        let raw = "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/myrg/providers/microsoft.managedidentity/userassignedidentities/id-app";
        let uai = id(raw);
        assert_eq!(uai.provider_namespace(), Some("Microsoft.ManagedIdentity"));
        assert_eq!(uai.resource_type().as_deref(), Some("Microsoft.ManagedIdentity/userAssignedIdentities"));
        assert_eq!(
            uai.canonical(),
            format!("/subscriptions/{SUB}/resourceGroups/myrg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-app")
        );
        assert_eq!(uai.as_str(), raw);
        assert_eq!(uai.name(), Some("id-app"));
    }

    #[test]
    fn unknown_namespace_and_type_keep_their_casing() {
        let x = id("/subscriptions/s/resourceGroups/rg/providers/contoso.Widgets/gadgetThings/G1");
        assert_eq!(x.canonical(), "/subscriptions/s/resourceGroups/rg/providers/contoso.Widgets/gadgetThings/G1");
        assert_eq!(x.resource_type().as_deref(), Some("contoso.Widgets/gadgetThings"));
        assert_eq!(x, id("/subscriptions/S/resourceGroups/RG/providers/Contoso.widgets/GADGETTHINGS/g1"));
    }

    #[test]
    fn trailing_slash() {
        let a = id(&format!("{SUBNET}/"));
        assert_eq!(a, id(SUBNET));
        assert_eq!(a.canonical(), SUBNET);
        assert_eq!(a.as_str(), format!("{SUBNET}/"));
        assert_eq!(a.name(), Some("aks"));
    }

    #[test]
    fn kubelet_identity_as_aks_returns_it() {
        let raw = "/subscriptions/s/resourcegroups/MC_rg_aks_westeurope/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aks-agentpool";
        let k = id(raw);
        assert_eq!(k.scope_kind(), ScopeKind::Resource);
        assert_eq!(k.subscription_id(), Some("s"));
        assert_eq!(k.resource_group(), Some("MC_rg_aks_westeurope"));
        assert_eq!(k.name(), Some("aks-agentpool"));
        assert_eq!(
            k.canonical(),
            "/subscriptions/s/resourceGroups/MC_rg_aks_westeurope/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aks-agentpool"
        );
        assert_eq!(k, id(&raw.replace("MC_rg_aks_westeurope", "mc_rg_aks_westeurope")));
        assert_eq!(k.parent().unwrap().as_str(), "/subscriptions/s/resourcegroups/MC_rg_aks_westeurope");
    }

    #[test]
    fn subnet_nesting() {
        let s = id(SUBNET);
        match s.scope() {
            Scope::Resource { subscription_id, resource_group, provider_namespace, types } => {
                assert_eq!(subscription_id, SUB);
                assert_eq!(resource_group, "rg-spoke-1");
                assert_eq!(provider_namespace, "Microsoft.Network");
                assert_eq!(types, &pairs(&[("virtualNetworks", "vnet"), ("subnets", "aks")]));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.resource_type().as_deref(), Some("Microsoft.Network/virtualNetworks/subnets"));
        let vnet = s.parent().unwrap();
        assert_eq!(vnet.as_str(), VNET);
        assert_eq!(vnet.resource_type().as_deref(), Some("Microsoft.Network/virtualNetworks"));
        let rg = vnet.parent().unwrap();
        assert_eq!(rg.scope_kind(), ScopeKind::ResourceGroup);
        assert_eq!(rg.parent().unwrap().scope_kind(), ScopeKind::Subscription);
    }

    #[test]
    fn role_assignment_under_resource_group_is_an_extension() {
        let raw = format!("/subscriptions/x/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/{ROLE_ASSIGNMENT_GUID}");
        let ra = id(&raw);
        assert_eq!(ra.scope_kind(), ScopeKind::Extension);
        let scope = ra.extension_scope().unwrap();
        assert_eq!(scope.scope_kind(), ScopeKind::ResourceGroup);
        assert_eq!(scope.as_str(), "/subscriptions/x/resourceGroups/rg");
        assert_eq!(ra.subscription_id(), Some("x"));
        assert_eq!(ra.resource_group(), Some("rg"));
        assert_eq!(ra.resource_type().as_deref(), Some("Microsoft.Authorization/roleAssignments"));
        assert_eq!(ra.name(), Some(ROLE_ASSIGNMENT_GUID));
        assert_eq!(ra.parent().unwrap(), *scope);
        assert_eq!(ra.canonical(), raw);
    }

    #[test]
    fn role_assignment_under_subnet() {
        let raw = format!(
            "{}/providers/microsoft.authorization/roleassignments/{ROLE_ASSIGNMENT_GUID}",
            SUBNET.replace("resourceGroups", "resourcegroups")
        );
        let ra = id(&raw);
        match ra.scope() {
            Scope::Extension { parent, provider_namespace, types } => {
                assert_eq!(parent.scope_kind(), ScopeKind::Resource);
                assert_eq!(parent.as_ref(), &id(SUBNET));
                assert_eq!(parent.as_str(), SUBNET.replace("resourceGroups", "resourcegroups"));
                assert_eq!(provider_namespace, "Microsoft.Authorization");
                assert_eq!(types, &pairs(&[("roleAssignments", ROLE_ASSIGNMENT_GUID)]));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            ra.canonical(),
            format!("{SUBNET}/providers/Microsoft.Authorization/roleAssignments/{ROLE_ASSIGNMENT_GUID}")
        );
        assert_eq!(ra.resource_group(), Some("rg-spoke-1"));
        assert_eq!(ra.provider_namespace(), Some("Microsoft.Authorization"));
        assert!(id(SUBNET).is_ancestor_of(&ra));
        assert!(id(VNET).is_ancestor_of(&ra));
    }

    #[test]
    fn role_definitions_tenant_vs_subscription() {
        let g = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
        let tenant = id(&format!("/providers/Microsoft.Authorization/roleDefinitions/{g}"));
        match tenant.scope() {
            Scope::Extension { parent, provider_namespace, types } => {
                assert_eq!(parent.scope_kind(), ScopeKind::Tenant);
                assert_eq!(provider_namespace, "Microsoft.Authorization");
                assert_eq!(types, &pairs(&[("roleDefinitions", g)]));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(tenant.subscription_id(), None);
        assert_eq!(tenant.parent().unwrap().scope_kind(), ScopeKind::Tenant);

        let sub = id(&format!("/subscriptions/s/providers/microsoft.authorization/roledefinitions/{g}"));
        assert_eq!(sub.scope_kind(), ScopeKind::Extension);
        assert_eq!(sub.extension_scope().unwrap().scope_kind(), ScopeKind::Subscription);
        assert_eq!(sub.subscription_id(), Some("s"));
        assert_eq!(sub.canonical(), format!("/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/{g}"));
        assert_eq!(sub.name(), Some(g));
        // Same GUID, different ids: they are not equal as resource ids.
        assert_ne!(tenant, sub);
    }

    #[test]
    fn management_groups() {
        let mg = id("/providers/microsoft.management/MANAGEMENTGROUPS/Corp-Landing-Zones/");
        assert_eq!(mg.scope_kind(), ScopeKind::ManagementGroup);
        assert_eq!(mg.name(), Some("Corp-Landing-Zones"));
        assert_eq!(mg.canonical(), "/providers/Microsoft.Management/managementGroups/Corp-Landing-Zones");
        assert_eq!(mg.resource_type().as_deref(), Some("Microsoft.Management/managementGroups"));
        assert_eq!(mg.subscription_id(), None);
        assert_eq!(mg.parent().unwrap().scope_kind(), ScopeKind::Tenant);

        let ra = id(&format!(
            "/providers/Microsoft.Management/managementGroups/corp-landing-zones/providers/Microsoft.Authorization/roleAssignments/{ROLE_ASSIGNMENT_GUID}"
        ));
        assert_eq!(ra.scope_kind(), ScopeKind::Extension);
        assert_eq!(ra.extension_scope().unwrap(), &mg);
        assert!(mg.is_ancestor_of(&ra));
        assert_eq!(ra.parent().unwrap(), mg);
        // Subscription membership is not visible in ids.
        assert!(!mg.is_ancestor_of(&id("/subscriptions/s")));
    }

    #[test]
    fn subscription_level_provider_resources_are_extensions() {
        let d = id("/subscriptions/s/providers/Microsoft.Insights/diagnosticSettings/to-law");
        assert_eq!(d.scope_kind(), ScopeKind::Extension);
        assert_eq!(d.resource_group(), None);
        let rg_level = id("/subscriptions/s/resourceGroups/rg/providers/microsoft.insights/DIAGNOSTICSETTINGS/x");
        assert_eq!(rg_level.scope_kind(), ScopeKind::Extension);
        let component = id("/subscriptions/s/resourceGroups/rg/providers/microsoft.insights/components/appi");
        assert_eq!(component.scope_kind(), ScopeKind::Resource);
    }

    #[test]
    fn nested_extension_parent_walks_types_first() {
        let e = id("/subscriptions/s/providers/Contoso.Things/widgets/w/parts/p");
        let p = e.parent().unwrap();
        assert_eq!(p.as_str(), "/subscriptions/s/providers/Contoso.Things/widgets/w");
        assert_eq!(p.scope_kind(), ScopeKind::Extension);
        assert_eq!(p.parent().unwrap().as_str(), "/subscriptions/s");
    }

    #[test]
    fn a_name_may_be_called_providers() {
        let x = id("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/providers");
        assert_eq!(x.scope_kind(), ScopeKind::Resource);
        assert_eq!(x.name(), Some("providers"));
    }

    #[test]
    fn equality_and_hash_ignore_case() {
        let variants = [
            SUBNET.to_string(),
            SUBNET.to_lowercase(),
            SUBNET.to_uppercase(),
            format!("{}/", SUBNET.replace("Microsoft.Network", "MICROSOFT.NETWORK")),
        ];
        let set: HashSet<ResourceId> = variants.iter().map(|v| id(v)).collect();
        assert_eq!(set.len(), 1);
        for v in &variants {
            assert_eq!(id(v).key(), SUBNET.to_lowercase());
        }
        assert_ne!(id(SUBNET), id(VNET));
    }

    #[test]
    fn ancestry() {
        let tenant = id("/");
        let sub = id(&format!("/subscriptions/{SUB}"));
        let rg = id(&format!("/SUBSCRIPTIONS/{SUB}/resourcegroups/RG-SPOKE-1"));
        let vnet = id(VNET);
        let subnet = id(SUBNET);
        let other_rg = id(&format!("/subscriptions/{SUB}/resourceGroups/rg-spoke-10"));

        assert!(tenant.is_ancestor_of(&sub));
        assert!(tenant.is_ancestor_of(&subnet));
        assert!(sub.is_ancestor_of(&rg));
        assert!(sub.is_ancestor_of(&subnet));
        assert!(rg.is_ancestor_of(&vnet));
        assert!(vnet.is_ancestor_of(&subnet));

        assert!(!subnet.is_ancestor_of(&vnet));
        assert!(!vnet.is_ancestor_of(&vnet));
        assert!(!tenant.is_ancestor_of(&tenant));
        assert!(vnet.is_same_or_ancestor_of(&vnet));
        // A prefix of the text is not a prefix of the hierarchy.
        assert!(!id(&format!("/subscriptions/{SUB}/resourceGroups/rg-spoke-1")).is_ancestor_of(&other_rg));
        assert!(!other_rg.is_ancestor_of(&subnet));
        assert!(!id("/subscriptions/other").is_ancestor_of(&subnet));
    }

    fn reason(s: &str) -> IdErrorReason {
        match ResourceId::parse(s) {
            Ok(v) => panic!("{s:?} parsed as {v:?}"),
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.starts_with(&format!("expected an Azure resource id like {EXPECTED}, got ")), "{msg}");
                assert!(msg.contains(&format!("{s:?}")), "{msg}");
                assert_eq!(e.input(), s);
                e.reason().clone()
            }
        }
    }

    #[test]
    fn invalid_inputs() {
        assert_eq!(reason(""), IdErrorReason::Empty);
        assert_eq!(reason("subscriptions/s"), IdErrorReason::MissingLeadingSlash);
        assert_eq!(reason("https://management.azure.com/subscriptions/s"), IdErrorReason::MissingLeadingSlash);
        assert_eq!(reason("/subscriptions//resourceGroups/rg"), IdErrorReason::EmptySegment);
        assert_eq!(reason("//"), IdErrorReason::EmptySegment);
        assert_eq!(reason("/subscriptions/s/resourceGroups/rg//"), IdErrorReason::EmptySegment);
        assert_eq!(reason(" /subscriptions/s"), IdErrorReason::Whitespace(0));
        assert_eq!(reason("/subscriptions/s\n"), IdErrorReason::Whitespace(16));
        assert_eq!(reason("/subscriptions/s/resourceGroups/my rg"), IdErrorReason::Whitespace(34));
        assert_eq!(reason("/subscriptions/s?api-version=2022-04-01"), IdErrorReason::ForbiddenCharacter('?'));
        assert!(matches!(reason("/subscriptions"), IdErrorReason::MissingSegment { .. }));
        assert!(matches!(reason("/subscriptions/s/resourceGroups"), IdErrorReason::MissingSegment { .. }));
        assert!(matches!(reason("/subscriptions/s/resourceGroups/rg/providers"), IdErrorReason::MissingSegment { .. }));
        assert!(matches!(
            reason("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network"),
            IdErrorReason::MissingSegment { .. }
        ));
        assert_eq!(
            reason("/subscriptions/s/resourceGroups/rg/providers/virtualNetworks/v"),
            IdErrorReason::InvalidNamespace { found: "virtualNetworks".into() }
        );
        assert_eq!(reason(&format!("{VNET}/subnets")), IdErrorReason::UnpairedType { resource_type: "subnets".into() });
        assert_eq!(
            reason("/resourceGroups/rg"),
            IdErrorReason::UnexpectedSegment {
                found: "resourceGroups".into(),
                position: "at the start",
                expected: "\"subscriptions\" or \"providers\""
            }
        );
        assert!(matches!(
            reason("/subscriptions/s/resourceGroup/rg"),
            IdErrorReason::UnexpectedSegment { found, .. } if found == "resourceGroup"
        ));
        assert!(matches!(
            reason("/subscriptions/s/resourceGroups/rg/Microsoft.Network/virtualNetworks/v"),
            IdErrorReason::UnexpectedSegment { found, .. } if found == "Microsoft.Network"
        ));
    }

    #[test]
    fn error_messages_read_well() {
        let e = ResourceId::parse(&format!("{VNET}/subnets")).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "expected an Azure resource id like /subscriptions/<id>/resourceGroups/<name>/providers/<Namespace>/<type>/<name>, \
                 got \"{VNET}/subnets\": resource type \"subnets\" has no name after it; under a provider namespace types \
                 and names alternate: <type>/<name>[/<type>/<name>...]"
            )
        );
        let e = ResourceId::parse("/subscriptions/s/resourceGroup/rg").unwrap_err();
        assert!(
            e.to_string().ends_with(
                "unexpected segment \"resourceGroup\" after the subscription id; expected \"resourceGroups\" or \"providers\""
            ),
            "{e}"
        );
    }

    #[test]
    fn from_str_and_display() {
        let raw = "/subscriptions/s/resourcegroups/RG/";
        let p: ResourceId = raw.parse().unwrap();
        assert_eq!(p.to_string(), raw);
        assert_eq!(p.canonical(), "/subscriptions/s/resourceGroups/RG");
    }

    /// Valid ids split into (segment, is_fixed): fixed segments are the
    /// keywords, namespaces and well-known types whose case ARM ignores.
    fn templates() -> Vec<Vec<(&'static str, bool)>> {
        let f = |s| (s, true);
        let n = |s| (s, false);
        vec![
            vec![f("subscriptions"), n(SUB)],
            vec![f("subscriptions"), n(SUB), f("resourceGroups"), n("rg-spoke-1")],
            vec![
                f("subscriptions"),
                n(SUB),
                f("resourceGroups"),
                n("rg-spoke-1"),
                f("providers"),
                f("Microsoft.Network"),
                f("virtualNetworks"),
                n("vnet"),
                f("subnets"),
                n("aks"),
                f("providers"),
                f("Microsoft.Authorization"),
                f("roleAssignments"),
                n(ROLE_ASSIGNMENT_GUID),
            ],
            vec![
                f("subscriptions"),
                n("s"),
                f("resourcegroups"),
                n("MC_rg_aks_westeurope"),
                f("providers"),
                f("Microsoft.ManagedIdentity"),
                f("userAssignedIdentities"),
                n("aks-agentpool"),
                f("federatedIdentityCredentials"),
                n("fic"),
            ],
            vec![f("providers"), f("Microsoft.Management"), f("managementGroups"), n("Corp")],
            vec![f("providers"), f("Microsoft.Authorization"), f("roleDefinitions"), n(ROLE_ASSIGNMENT_GUID)],
        ]
    }

    fn flip(s: &str, mask: &[bool]) -> String {
        s.chars()
            .enumerate()
            .map(|(i, c)| {
                if mask.get(i).copied().unwrap_or(false) {
                    if c.is_ascii_uppercase() {
                        c.to_ascii_lowercase()
                    } else {
                        c.to_ascii_uppercase()
                    }
                } else {
                    c
                }
            })
            .collect()
    }

    proptest! {
        #[test]
        fn case_flips_of_fixed_segments_keep_the_key(
            which in 0usize..6,
            masks in proptest::collection::vec(proptest::collection::vec(any::<bool>(), 32), 14),
            trailing_slash in any::<bool>(),
        ) {
            let template = &templates()[which];
            let plain = format!("/{}", template.iter().map(|(s, _)| *s).collect::<Vec<_>>().join("/"));
            let flipped: Vec<String> = template
                .iter()
                .zip(&masks)
                .map(|((s, fixed), mask)| if *fixed { flip(s, mask) } else { s.to_string() })
                .collect();
            let mut flipped = format!("/{}", flipped.join("/"));
            if trailing_slash {
                flipped.push('/');
            }
            let a = ResourceId::parse(&plain).unwrap();
            let b = ResourceId::parse(&flipped).unwrap();
            prop_assert_eq!(a.key(), b.key());
            prop_assert_eq!(a.canonical(), b.canonical());
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(b.as_str(), flipped.as_str());
            prop_assert_eq!(a.scope_kind(), b.scope_kind());
        }

        #[test]
        fn canonical_reparses_to_the_same_id(s in r"(/((?i)subscriptions|resourcegroups|providers|microsoft\.network|microsoft\.management|managementgroups|microsoft\.authorization|virtualnetworks|x\.y|[a-z0-9]{1,3})){0,12}/?") {
            if let Ok(a) = ResourceId::parse(&s) {
                let b = ResourceId::parse(&a.canonical()).unwrap();
                prop_assert_eq!(a.key(), b.key());
                prop_assert_eq!(a.canonical(), b.canonical());
                prop_assert_eq!(a.scope_kind(), b.scope_kind());
                if let Some(p) = a.parent() {
                    prop_assert!(p.is_ancestor_of(&a));
                }
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            let _ = ResourceId::parse(&s);
        }
    }
}
