//! Strategies for text shaped like ARM ids, shared by the fuzz targets of the provider
//! (`tests/fuzz.rs`) and of the emulator (`emulator/tests/fuzz.rs`).
#![allow(dead_code)]

use proptest::prelude::*;

/// A segment an ARM id might contain, in any casing.
pub fn id_segment() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "subscriptions",
        "resourceGroups",
        "resourcegroups",
        "providers",
        "Microsoft.Network",
        "microsoft.network",
        "Microsoft.Authorization",
        "Microsoft.Management",
        "managementGroups",
        "Microsoft.ContainerService",
        "managedClusters",
        "Microsoft.ManagedIdentity",
        "userAssignedIdentities",
        "federatedIdentityCredentials",
        "Microsoft.Insights",
        "diagnosticSettings",
        "Microsoft.Resources",
        "tags",
        "roleAssignments",
        "roleDefinitions",
        "virtualNetworks",
        "subnets",
        "dnszones",
        "Microsoft.Storage",
        "storageAccounts",
        "9c195f54-5580-4cd2-9e24-3114522757f4",
        "rg",
        "x",
        "Contoso.Custom",
        "a.b.c",
        "..",
        ".",
    ]);
    prop_oneof![
        6 => (words, any::<u64>()).prop_map(|(w, mask)| {
            // Flip the case of some letters.
            w.chars()
                .enumerate()
                .map(|(i, c)| if mask >> (i % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c })
                .collect()
        }),
        2 => "[A-Za-z0-9._()-]{1,12}",
        1 => "[^/?#\\s]{1,6}",
        1 => any::<String>(),
    ]
}

/// Flip the ASCII case of the letters `mask` selects.
pub fn flip_case(text: &str, mask: u64) -> String {
    text.chars()
        .enumerate()
        .map(|(i, c)| if mask >> (i % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
        .collect()
}

/// A user-chosen name: mostly ordinary, sometimes any characters an id may carry.
pub fn id_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[A-Za-z0-9._()-]{1,16}",
        1 => "[^/?#\\s\\p{C}]{1,8}",
        1 => prop::sample::select(vec!["providers", "subscriptions", "resourceGroups", "Microsoft.Network", "."])
            .prop_map(String::from),
    ]
}

/// A fixed word in random casing.
pub fn word(words: &'static [&'static str]) -> impl Strategy<Value = String> {
    (prop::sample::select(words), any::<u64>(), any::<bool>()).prop_map(|(w, mask, flip)| {
        if flip {
            flip_case(w, mask)
        } else {
            w.to_string()
        }
    })
}

pub const NAMESPACES: &[&str] = &[
    "Microsoft.Network",
    "Microsoft.Authorization",
    "Microsoft.ContainerRegistry",
    "Microsoft.ContainerService",
    "Microsoft.ManagedIdentity",
    "Microsoft.Insights",
    "Microsoft.Resources",
    "Microsoft.Management",
    "Microsoft.Storage",
    "Contoso.Custom",
];
pub const TYPES: &[&str] = &[
    "virtualNetworks",
    "subnets",
    "registries",
    "managedClusters",
    "roleAssignments",
    "roleDefinitions",
    "userAssignedIdentities",
    "federatedIdentityCredentials",
    "diagnosticSettings",
    "tags",
    "locks",
    "managementGroups",
    "dnsZones",
    "widgets",
];

/// `/providers/{ns}/{type}/{name}[/{type}/{name}…]`
pub fn provider_tail() -> impl Strategy<Value = String> {
    (word(&["providers"]), word(NAMESPACES), prop::collection::vec((word(TYPES), id_name()), 1..4)).prop_map(
        |(p, ns, pairs)| {
            let mut s = format!("/{p}/{ns}");
            for (t, n) in pairs {
                s.push_str(&format!("/{t}/{n}"));
            }
            s
        },
    )
}

/// An id of a well-formed shape (tenant, management group, subscription, resource group,
/// resource, extension on any of them), in random casing, maybe with a trailing slash.
pub fn structured_id() -> impl Strategy<Value = String> {
    let sub = || (word(&["subscriptions"]), id_name()).prop_map(|(w, n)| format!("/{w}/{n}"));
    let rg = || (sub(), word(&["resourceGroups"]), id_name()).prop_map(|(s, w, n)| format!("{s}/{w}/{n}"));
    let base = prop_oneof![
        Just(String::new()),
        (word(&["providers"]), word(&["Microsoft.Management"]), word(&["managementGroups"]), id_name())
            .prop_map(|(p, ns, t, n)| format!("/{p}/{ns}/{t}/{n}")),
        sub(),
        rg(),
        (rg(), provider_tail()).prop_map(|(r, t)| format!("{r}{t}")),
    ];
    (base, prop::collection::vec(provider_tail(), 0..3), any::<bool>()).prop_map(|(b, exts, slash)| {
        let mut s = b + &exts.concat();
        if s.is_empty() || slash {
            s.push('/');
        }
        s
    })
}

/// Text shaped like an ARM id: slash-separated segments, sometimes with a missing leading
/// slash, a trailing slash, an empty segment or a query.
pub fn id_like() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(id_segment(), 0..14),
        prop::sample::select(vec!["/", "/", "/", "", "//"]),
        prop::sample::select(vec!["", "", "", "/", "//", "?api-version=1", " "]),
        prop::option::weighted(0.05, 0..14usize),
    )
        .prop_map(|(segs, lead, tail, empty_at)| {
            let mut segs = segs;
            if let Some(i) = empty_at {
                segs.insert(i.min(segs.len()), String::new());
            }
            format!("{lead}{}{tail}", segs.join("/"))
        })
}
