//! The registry docs stay in sync with the schemas: every argument, attribute and block of every
//! resource, data source and the provider is documented on its page, and every name a page
//! lists as an argument or attribute exists in the schema.

use std::collections::BTreeSet;
use std::path::Path;

use aksid::framework::{Block, Provider};
use aksid::provider::AksidProvider;

/// Every attribute and block name in `block`, nested ones included.
fn names(block: &Block, out: &mut BTreeSet<String>) {
    for a in &block.attributes {
        out.insert(a.name.clone());
    }
    for b in &block.blocks {
        out.insert(b.type_name.clone());
        names(&b.block, out);
    }
}

/// The page's reference sections: from the first "Argument" heading to the end of the
/// "Attribute Reference" section (or the whole argument section when there is none).
fn reference_sections(page: &str) -> String {
    let lower = page.to_ascii_lowercase();
    let Some(start) = lower.find("## argument reference") else { return String::new() };
    let after_attributes = lower[start..].find("## attribute reference").map(|i| start + i + 3);
    let from = after_attributes.unwrap_or(start + 3);
    let end = lower[from..].find("\n## ").map_or(page.len(), |i| from + i);
    page[start..end].to_string()
}

/// Names a reference section lists: the backticked words that start a bullet.
fn listed(section: &str) -> BTreeSet<String> {
    section
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("- `"))
        .filter_map(|rest| rest.split('`').next())
        .map(str::to_string)
        .collect()
}

/// The section under `heading` (to the next `## `), if the page has one.
fn section(page: &str, heading: &str) -> String {
    let lower = page.to_ascii_lowercase();
    let Some(start) = lower.find(&format!("## {}", heading.to_ascii_lowercase())) else { return String::new() };
    let end = lower[start + 3..].find("\n## ").map_or(page.len(), |i| start + 3 + i);
    page[start..end].to_string()
}

/// `extra` names further sections that document nested blocks (the provider's `kubernetes`).
fn check(page_path: &Path, what: &str, block: &Block, extra: &[&str], problems: &mut Vec<String>) {
    let Ok(page) = std::fs::read_to_string(page_path) else {
        problems.push(format!("{what}: no page {}", page_path.display()));
        return;
    };
    let mut section = reference_sections(&page);
    if section.is_empty() {
        problems.push(format!("{what}: {} has no \"## Argument Reference\"", page_path.display()));
        return;
    }
    for heading in extra {
        section.push_str(&self::section(&page, heading));
    }
    let mut schema = BTreeSet::new();
    names(block, &mut schema);
    for n in &schema {
        if !section.contains(&format!("`{n}`")) {
            problems.push(format!("{what}: `{n}` is not documented in {}", page_path.display()));
        }
    }
    for n in listed(&section) {
        if !schema.contains(&n) {
            problems.push(format!("{what}: {} documents `{n}`, which the schema does not have", page_path.display()));
        }
    }
}

#[test]
fn every_schema_name_is_documented_and_every_documented_name_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let provider = AksidProvider::new();
    let mut problems = Vec::new();
    check(&root.join("docs/index.md"), "provider", &provider.schema().block, &["Kubernetes connection"], &mut problems);
    for r in provider.resources() {
        let page = root.join("docs/resources").join(format!("{}.md", r.type_name().trim_start_matches("aksid_")));
        check(&page, r.type_name(), &r.schema().block, &[], &mut problems);
    }
    for d in provider.data_sources() {
        let page = root.join("docs/data-sources").join(format!("{}.md", d.type_name().trim_start_matches("aksid_")));
        check(&page, d.type_name(), &d.schema().block, &[], &mut problems);
    }
    assert!(problems.is_empty(), "docs out of sync with the schemas:\n{}", problems.join("\n"));
}

#[test]
fn the_section_parser_reads_bullets_only_in_reference_sections() {
    let page = "# x\n## Example Usage\n- `not_this`\n## Argument Reference\n- `a` — text `b`\n  - `c` — nested\n## Attribute Reference\n- `d`\n## Import\n- `e`\n";
    let s = reference_sections(page);
    assert_eq!(listed(&s), ["a", "c", "d"].iter().map(|x| x.to_string()).collect());
    assert!(s.contains("`b`") && !s.contains("not_this") && !s.contains("`e`"));
}
