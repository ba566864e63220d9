//! `mapwright doc`: the data dictionary of the mappings under
//! `tests/commands/doc/` as Markdown and HTML snapshots, and the
//! properties of the HTML page (self-contained, escaped).

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/commands/doc")
}

/// Runs `mapwright doc ARGS` in `dir`: exit code, standard output, standard error.
fn doc_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mapwright"))
        .arg("doc")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run mapwright");
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

fn doc(args: &[&str]) -> String {
    let (code, out, err) = doc_in(&fixtures(), args);
    assert_eq!(code, 0, "mapwright doc {args:?}: {err}");
    assert!(err.is_empty(), "{err}");
    out
}

#[test]
fn markdown_single_source() {
    insta::assert_snapshot!(doc(&["orders.yaml"]));
}

#[test]
fn markdown_multi_source() {
    insta::assert_snapshot!(doc(&["golden.yaml", "--format", "md"]));
}

#[test]
fn html_single_source() {
    insta::assert_snapshot!(doc(&["orders.yaml", "--format", "html"]));
}

#[test]
fn html_multi_source() {
    insta::assert_snapshot!(doc(&["golden.yaml", "--format", "html"]));
}

/// One page: no script, no stylesheet or font or image from anywhere, and
/// text from the mapping escaped.
#[test]
fn html_is_self_contained_and_escaped() {
    for file in ["orders.yaml", "golden.yaml"] {
        let page = doc(&[file, "--format", "html"]);
        assert!(page.starts_with("<!DOCTYPE html>\n"));
        assert!(page.ends_with("</html>\n"));
        for banned in ["http:", "https:", "<script", "<link", "<img", "src=", "@import", "url("] {
            assert!(!page.contains(banned), "{file}: the page contains {banned:?}");
        }
        assert_eq!(page.matches("<section").count(), page.matches("</section>").count());
        assert_eq!(page.matches("<table").count(), page.matches("</table>").count());
        assert!(page.contains("@media print"), "{file}: print styles");
    }
    let page = doc(&["orders.yaml", "--format", "html"]);
    assert!(page.contains("The ERP order number &lt;b&gt;not&lt;/b&gt; the web id"), "doc text is escaped");
    assert!(page.contains("&lt;for the &quot;back office&quot; &amp; finance&gt;"), "the description is escaped");
    assert!(!page.contains("<b>not</b>"));
    // One section per output field.
    let md = doc(&["orders.yaml"]);
    let fields = md.lines().filter(|l| l.starts_with("### ")).count();
    assert_eq!(page.matches("<section class=\"field\"").count(), fields);
}

#[test]
fn output_file_holds_what_standard_output_shows() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["md", "html"] {
        let target = dir.path().join(format!("dictionary.{format}"));
        let file = fixtures().join("orders.yaml");
        let (code, out, err) =
            doc_in(dir.path(), &[file.to_str().unwrap(), "--format", format, "-o", target.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        assert!(out.is_empty());
        let (_, shown, _) = doc_in(dir.path(), &[file.to_str().unwrap(), "--format", format]);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), shown);
    }
}

#[test]
fn a_mapping_that_does_not_compile_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "mapping: bad\nfields:\n  a: lowr($.a)\n").unwrap();
    let (code, out, err) = doc_in(dir.path(), &["bad.yaml"]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.contains("unknown function `lowr`"), "{err}");
    let (code, _, err) = doc_in(dir.path(), &["bad.yaml", "--format", "pdf"]);
    assert_eq!(code, 2, "clap rejects an unknown format: {err}");
}

/// Every mapping of the project documents in both formats.
#[test]
fn every_project_mapping_documents() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for dir in std::fs::read_dir(root.join("mappings")).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            for format in ["md", "html"] {
                let (code, out, err) = doc_in(&root, &[f.to_str().unwrap(), "--format", format]);
                assert_eq!(code, 0, "{}: {err}", f.display());
                assert!(out.contains("Data dictionary"));
            }
            checked += 1;
        }
    }
    assert!(checked >= 2);
}
