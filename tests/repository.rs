//! The repository is self-contained: a fresh clone with nothing beside it builds the
//! site and runs every test, so no code, test, benchmark or CI step may read data from a
//! folder next to the checkout.

use std::path::{Path, PathBuf};

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn nothing_reads_data_beside_the_checkout() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Spelled in two pieces so that this file does not name the path itself.
    let needle = format!("..{}shared", '/');
    let mut files = Vec::new();
    for dir in ["src", "tests", "bench", ".ci", ".github"] {
        files_under(&root.join(dir), &mut files);
    }
    assert!(
        files.len() > 50,
        "expected the source tree, found {} files",
        files.len()
    );
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| {
            std::fs::read(f)
                .map(|bytes| String::from_utf8_lossy(&bytes).contains(&needle))
                .unwrap_or(false)
        })
        .map(|f| f.strip_prefix(root).unwrap_or(f).display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "these files name {needle}: {offenders:?}"
    );
}

#[test]
fn the_data_is_in_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = std::fs::read_dir(root.join("seeds"))
        .expect("seeds/")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .count();
    assert_eq!(seeds, 47, "seed files in seeds/");
    assert!(root.join("geodata/de.topo.json").is_file());
    assert!(root.join("world/zones/de.zone").is_file());
    assert!(root.join("world/nsd.conf.example").is_file());
    for readme in ["seeds/README.md", "geodata/README.md", "world/README.md"] {
        let text = std::fs::read_to_string(root.join(readme)).expect(readme);
        assert!(
            text.contains("icence"),
            "{readme} states provenance and licence"
        );
    }
}
