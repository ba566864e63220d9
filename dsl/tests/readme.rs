//! The README's builtin reference is generated from the function table, so
//! docs and `check` read the same list. This test fails when they drift;
//! `UPDATE_README=1 cargo test -p mapwright-dsl --test readme` rewrites it.

const START: &str = "<!-- builtins:start -->\n";
const END: &str = "<!-- builtins:end -->";

#[test]
fn readme_reference_matches_the_function_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md exists");
    let (Some(s), Some(e)) = (readme.find(START), readme.find(END)) else {
        panic!("README.md lacks the {START:?} … {END:?} markers");
    };
    let current = &readme[s + START.len()..e];
    let generated = mapwright_dsl::functions::reference_markdown();
    if current != generated {
        if std::env::var_os("UPDATE_README").is_some() {
            let updated = format!("{}{START}{generated}{}", &readme[..s], &readme[e..]);
            std::fs::write(path, updated).expect("README.md is writable");
        } else {
            panic!(
                "README.md's builtin reference is out of date: run UPDATE_README=1 cargo test -p mapwright-dsl --test readme"
            );
        }
    }
    for b in mapwright_dsl::functions::BUILTINS {
        assert!(generated.contains(&format!("`{}(", b.name)), "{} missing", b.name);
    }
}
