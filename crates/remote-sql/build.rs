//! Embeds the SQL files: `queries/<dialect>/<name>.sql` become each dialect's named statements,
//! `migrations/<dialect>/<version>_<words>.sql` its migrations, so adding a statement or a
//! dialect is adding files.

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

fn main() {
    // Read when the script runs, not when it is compiled: a compiled script is reused for a
    // copy of the package at another path (a target directory shared by two checkouts), and
    // would embed the files of the copy it was compiled for.
    let root = env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&root);
    let mut out = String::new();
    for (kind, dir) in [("QUERIES", "queries"), ("MIGRATIONS", "migrations")] {
        println!("cargo:rerun-if-changed={dir}");
        writeln!(
            out,
            "/// `({dir} of a dialect, [(file stem, text)])`, by dialect."
        )
        .unwrap();
        writeln!(
            out,
            "pub(crate) const {kind}: &[(&str, &[(&str, &str)])] = &["
        )
        .unwrap();
        for dialect in sorted(&root.join(dir)) {
            let name = dialect.file_name().unwrap().to_string_lossy().into_owned();
            writeln!(out, "    ({name:?}, &[").unwrap();
            for file in sorted(&dialect) {
                let Some(stem) = file.file_stem().map(|s| s.to_string_lossy()) else {
                    continue;
                };
                if file.extension().is_some_and(|e| e == "sql") {
                    writeln!(
                        out,
                        "        ({stem:?}, include_str!({:?})),",
                        file.display()
                    )
                    .unwrap();
                }
            }
            writeln!(out, "    ]),").unwrap();
        }
        writeln!(out, "];").unwrap();
    }
    let target = Path::new(&env::var("OUT_DIR").unwrap()).join("sql_files.rs");
    fs::write(target, out).unwrap();
}

/// The entries of `dir` in name order (none when it does not exist).
fn sorted(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map(|read| read.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    entries.sort();
    entries
}
