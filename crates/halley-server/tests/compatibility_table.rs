//! The README's compatibility table must say exactly what the router builds.
//! Run with `HALLEY_BLESS=1` to rewrite the table from the router.

use halley_api::endpoints::ENDPOINTS;
use halley_server::api::{built_endpoints, unsupported_endpoints};

const START: &str = "<!-- compatibility-table:start -->";
const END: &str = "<!-- compatibility-table:end -->";

fn expected_table() -> String {
    let built = built_endpoints();
    let unsupported = unsupported_endpoints();
    let mut table = String::from("| Endpoint | Path | State |\n| --- | --- | --- |\n");
    for endpoint in ENDPOINTS {
        let state = if built.contains(&endpoint.name) {
            "built"
        } else if unsupported.contains(&endpoint.name) {
            "not supported: a clear error names the missing platform or engine"
        } else {
            "not built"
        };
        table.push_str(&format!(
            "| {} | `{}` | {} |\n",
            endpoint.name, endpoint.path, state
        ));
    }
    table
}

#[test]
fn readme_table_matches_the_router() {
    let readme_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(readme_path).expect("README.md");
    let start = readme.find(START).expect("table start marker") + START.len();
    let end = readme.find(END).expect("table end marker");
    let expected = expected_table();
    let built = built_endpoints().len();
    let unsupported = unsupported_endpoints().len();
    let summary = format!(
        "\n{built} of {} endpoints are built; {unsupported} more are calls for platforms or engines Halley does not have, and answer `Status` 501 naming what is missing.\n\n",
        ENDPOINTS.len()
    );
    let wanted = format!("{summary}{expected}");
    if std::env::var_os("HALLEY_BLESS").is_some() {
        let updated = format!("{}{}{}", &readme[..start], wanted, &readme[end..]);
        std::fs::write(readme_path, updated).unwrap();
        return;
    }
    assert!(
        readme[start..end] == wanted,
        "README.md's compatibility table is out of date; run `HALLEY_BLESS=1 cargo test -p halley-server --test compatibility_table`"
    );
}
