//! Safe by default, with the real binary and real folders in a temp dir: `--out` never
//! replaces what mxmap did not write (and never the never-list, even with `--force`),
//! arguments that cannot be meant stop before any work with exit status 2, seed and
//! config problems name file, line and id or key.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::*;

/// Every file under `dir` with its bytes, and every folder (empty ones too).
fn snapshot(dir: &Path) -> (BTreeMap<PathBuf, Vec<u8>>, Vec<PathBuf>) {
    (common::snapshot(dir), folders_under(dir))
}

fn folders_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.push(path.clone());
            out.extend(folders_under(&path));
        }
    }
    out.sort();
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A scratch area: `home/` (the `HOME` of every run), `work/` (the working folder).
struct Scratch {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let tmp = tempfile::tempdir().expect("tempdir");
        // Canonical, so messages and comparisons see the same path the binary does.
        let root = tmp.path().canonicalize().expect("canonical");
        for dir in ["home", "work"] {
            std::fs::create_dir_all(root.join(dir)).expect("mkdir");
        }
        Scratch { _tmp: tmp, root }
    }

    fn home(&self) -> PathBuf {
        self.root.join("home")
    }

    fn work(&self) -> PathBuf {
        self.root.join("work")
    }

    /// `mxmap build` of the fixture countries against the fixture world, run in
    /// `work/` with `HOME=home/`, the cache in the root of the scratch area unless
    /// `extra` names one.
    fn build(&self, out: &Path, extra: &[&str]) -> Output {
        let mut cmd = mxmap(&self.work());
        cmd.env("HOME", self.home())
            .args(["build", "--countries", "ee,de", "--progress", "none"])
            .arg("--world")
            .arg(fixture("world"));
        fixture_inputs(&mut cmd);
        if !extra.contains(&"--cache") {
            cmd.arg("--cache").arg(self.root.join("cache.json"));
        }
        cmd.arg("--out").arg(out).args(extra);
        run(cmd, Duration::from_secs(180))
    }
}

/// Writes a few files a user might keep in a folder.
fn user_files(dir: &Path) {
    std::fs::create_dir_all(dir.join("drafts")).unwrap();
    std::fs::write(dir.join("notes.txt"), "my notes\n").unwrap();
    std::fs::write(dir.join("drafts/letter.md"), "Dear council,\n").unwrap();
    std::fs::write(dir.join("data.json"), "{\"mine\": true}\n").unwrap();
}

/// Asserts that a run was refused before any work: exit 2, the message, nothing
/// scanned, no staging folder.
fn assert_refused(out: &Output, expect: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "exit status 2 expected:\n{err}");
    assert!(err.contains("refusing --out"), "{err}");
    assert!(err.contains(expect), "{expect:?} not in:\n{err}");
    assert!(!err.contains("phase: scan"), "the scan started:\n{err}");
}

#[test]
fn a_user_folder_is_refused_untouched_and_replaced_only_with_force() {
    let s = Scratch::new();
    let notes = s.root.join("notes");
    user_files(&notes);
    let before = snapshot(&notes);
    let out = s.build(&notes, &[]);
    assert_refused(&out, &notes.display().to_string());
    let err = stderr(&out);
    assert!(
        err.contains("data.json, drafts, notes.txt") && err.contains("--force"),
        "the refusal names the foreign entries and the way out:\n{err}"
    );
    assert_eq!(snapshot(&notes), before, "a refused folder changed");
    assert!(!s.root.join("cache.json").exists(), "work started");

    // --force replaces it (the user asked for it), with a site that carries the marker.
    ok(&s.build(&notes, &["--force"]));
    assert!(!notes.join("notes.txt").exists());
    assert!(notes.join("index.html").is_file());
    let marker = std::fs::read_to_string(notes.join(".mxmap-site")).expect("marker");
    assert!(marker.starts_with("mxmap site\nversion = "), "{marker}");
}

#[test]
fn a_site_mxmap_built_is_replaced_and_an_empty_folder_is_used() {
    let s = Scratch::new();
    let site = s.root.join("site");
    std::fs::create_dir_all(&site).unwrap();
    ok(&s.build(&site, &[]));
    let first = std::fs::read(site.join("data.json")).unwrap();
    std::fs::write(site.join("index.html"), "stale page").unwrap();
    ok(&s.build(&site, &[]));
    assert_ne!(
        std::fs::read(site.join("index.html")).unwrap(),
        b"stale page"
    );
    assert_eq!(std::fs::read(site.join("data.json")).unwrap(), first);
    assert!(site.join(".mxmap-site").is_file());
}

#[test]
fn the_never_list_is_refused_even_with_force() {
    let s = Scratch::new();
    let work = s.work();
    user_files(&work);
    // The default cache (`.mxmap/scan-cache.json` in the working folder).
    std::fs::create_dir_all(work.join(".mxmap")).unwrap();
    std::fs::write(work.join(".mxmap/scan-cache.json"), "{\"format\": 2}").unwrap();
    let repo = s.root.join("checkout");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::write(repo.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(repo.join("README.md"), "# a checkout\n").unwrap();
    std::fs::write(s.home().join(".profile"), "export X=1\n").unwrap();
    let before = snapshot(&s.root);

    let cases: [(&str, PathBuf, &str); 7] = [
        (
            "working folder (.)",
            PathBuf::from("."),
            "the working folder",
        ),
        (
            "working folder (absolute)",
            work.clone(),
            "the working folder",
        ),
        (
            "an ancestor",
            PathBuf::from(".."),
            "an ancestor of the working folder",
        ),
        (".mxmap", PathBuf::from(".mxmap"), "where the scan cache is"),
        ("a git checkout", repo.clone(), "a git checkout"),
        ("home", s.home(), "the home folder"),
        ("above home", s.root.clone(), "an ancestor of"),
    ];
    for (what, out, expect) in &cases {
        for force in [false, true] {
            let mut cmd = mxmap(&work);
            cmd.env("HOME", s.home())
                .args(["build", "--countries", "ee", "--progress", "none"])
                .arg("--world")
                .arg(fixture("world"));
            fixture_inputs(&mut cmd).arg("--out").arg(out);
            if force {
                cmd.arg("--force");
            }
            let result = run(cmd, Duration::from_secs(60));
            let err = stderr(&result);
            assert_eq!(
                result.status.code(),
                Some(2),
                "{what} (force {force}):\n{err}"
            );
            assert!(
                err.contains("refusing --out") && err.contains(expect),
                "{what} (force {force}): {expect:?} not in\n{err}"
            );
            assert!(
                err.contains("not even with --force"),
                "{what}: the never-list says --force does not help:\n{err}"
            );
        }
    }
    assert_eq!(snapshot(&s.root), before, "a refused run changed a file");
}

#[test]
fn a_file_or_a_link_is_no_output_folder() {
    let s = Scratch::new();
    let file = s.root.join("site");
    std::fs::write(&file, "not a folder").unwrap();
    assert_refused(&s.build(&file, &["--force"]), "is not a folder");
    assert_eq!(std::fs::read(&file).unwrap(), b"not a folder");
    let link = s.root.join("link");
    std::os::unix::fs::symlink(s.home(), &link).unwrap();
    assert_refused(&s.build(&link, &["--force"]), "symbolic link");
}

/// A run of `mxmap ARGS` in `work/` with the fixture inputs unless `bare`.
fn usage_run(s: &Scratch, args: &[&str], bare: bool) -> Output {
    let mut cmd: Command = mxmap(&s.work());
    cmd.env("HOME", s.home()).args(args);
    if !bare {
        fixture_inputs(&mut cmd);
    }
    cmd.arg("--cache").arg(s.root.join("cache.json"));
    run(cmd, Duration::from_secs(60))
}

#[test]
fn arguments_that_cannot_be_meant_exit_2_before_any_work() {
    let s = Scratch::new();
    let world = fixture("world").display().to_string();
    let build = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["build", "--world", &world, "--progress", "none"]
            .iter()
            .map(|x| x.to_string())
            .collect();
        a.extend(extra.iter().map(|x| x.to_string()));
        a.push("--out".into());
        a.push(s.root.join("site").display().to_string());
        a
    };
    let missing = s.root.join("nope.toml").display().to_string();
    let missing_dir = s.root.join("nope").display().to_string();
    let fixture_seeds = fixture("seeds").display().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (build(&["--countries", ""]), "selects no country"),
        (build(&["--countries", ",,"]), "selects no country"),
        (
            build(&["--timeout", "0"]),
            "--timeout: the DNS timeout must be more than 0",
        ),
        (
            build(&["--retries", "1000"]),
            "--retries: at most 10 retries",
        ),
        (
            build(&["--smtp-reply-timeout", "0s"]),
            "--smtp-reply-timeout must be more than 0",
        ),
        (
            build(&["--seeds", &fixture_seeds, "--overrides", &missing]),
            "--overrides: file",
        ),
        (
            build(&["--seeds", &fixture_seeds, "--geodata", &missing_dir]),
            "--geodata: folder",
        ),
        (build(&["--max-churn", "7"]), "--max-churn is a share"),
        (
            build(&["--allow-collapse", "zz"]),
            "--allow-collapse: unknown country",
        ),
        (
            vec!["build".into(), "--world".into(), missing_dir.clone()],
            "--world: folder",
        ),
        (build(&["--config", &missing]), "--config: file"),
    ];
    for (args, expect) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // Cases that name an input of their own get no fixture inputs (flags may be
        // given once).
        let out = usage_run(&s, &args, args.contains(&"--seeds"));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}:\n{err}");
        assert!(err.contains(expect), "{args:?}: {expect:?} not in\n{err}");
        if expect.contains("--overrides") || expect.contains("--config") {
            assert!(err.contains(&missing), "the path is named:\n{err}");
        }
        assert!(
            !err.contains("phase: scan"),
            "{args:?} started work:\n{err}"
        );
    }
    assert!(!s.root.join("cache.json").exists());
    assert!(!s.root.join("site").exists());

    // An explicit seeds folder that is missing, and the default one.
    let out = usage_run(
        &s,
        &["scan", "--world", &world, "--seeds", &missing_dir],
        true,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("--seeds: folder {missing_dir} does not exist")));
    let out = usage_run(&s, &["scan", "--world", &world], true);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the seeds folder ./seeds is missing") && err.contains("--data DIR"),
        "{err}"
    );
    // Clap's own usage errors are 2 as well.
    let out = usage_run(&s, &["build", "--no-such-flag"], true);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn config_file_errors_name_the_file_the_line_and_the_key() {
    let s = Scratch::new();
    let world = fixture("world").display().to_string();
    for (text, expect) in [
        (
            "# comment\n[dns]\nretries = 2\ntimeout = \"0\"\n",
            "mxmap.toml:4: dns.timeout: the DNS timeout must be more than 0",
        ),
        (
            "countries = []\n",
            "mxmap.toml:1: countries: the list [] selects no country",
        ),
        (
            "\n\nsite_url = \"ftp://x\"\n",
            "mxmap.toml:3: site_url: must be an http(s) URL",
        ),
        (
            "[dns]\ntimeout = \"3s\"\nretires = 2\n",
            "mxmap.toml:3: dns.retires: unknown field `retires`",
        ),
        (
            "cache = \"c.json\"\n[dns]\nretries = \"two\"\n",
            "mxmap.toml:3: dns.retries: invalid type: string \"two\"",
        ),
        (
            "\n[gate]\nallow_collapse = [\"zz\"]\n",
            "mxmap.toml:3: gate.allow_collapse: unknown country",
        ),
        (
            "\ndata = \"nowhere\"\n",
            "mxmap.toml:2: data: folder ./nowhere does not exist",
        ),
    ] {
        std::fs::write(s.work().join("mxmap.toml"), text).unwrap();
        let out = usage_run(&s, &["scan", "--world", &world], false);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{text:?}:\n{err}");
        assert!(err.contains(expect), "{expect:?} not in\n{err}");
    }
}

/// `mxmap build` of Estonia from the seeds in `seeds` into `work/<out>`.
fn seed_build(s: &Scratch, seeds: &Path, out: &str) -> Output {
    let world = fixture("world").display().to_string();
    let seeds = seeds.display().to_string();
    let args = [
        "build",
        "--countries",
        "ee",
        "--world",
        &world,
        "--seeds",
        &seeds,
        "--progress",
        "none",
        "--out",
        out,
    ];
    usage_run(s, &args, true)
}

#[test]
fn seed_problems_name_file_line_and_id() {
    let s = Scratch::new();
    let seeds = s.root.join("seeds");
    std::fs::create_dir_all(&seeds).unwrap();
    // A byte-order mark, and an IP literal where a domain belongs.
    std::fs::write(
        seeds.join("ee.json"),
        "\u{feff}[\n{\"id\": \"EE-T00\", \"name\": \"Direct\", \"domain\": \"direct.ee\"},\n{\"id\": \"EE-IP\", \"name\": \"Numbers\", \"domain\": \"192.0.2.7\"}\n]\n",
    )
    .unwrap();
    let out = seed_build(&s, &seeds, "site");
    let err = stderr(&out);
    ok(&out);
    let file = seeds.join("ee.json").display().to_string();
    assert!(
        err.contains(&format!(
            "{file}:1 (entry 0) [EE-T00]: the file starts with a UTF-8 byte-order mark"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{file}:3 (entry 1) [EE-IP]: field \"domain\": \"192.0.2.7\" is an IP address"
        )),
        "{err}"
    );
    let data = data_json(&s.work().join("site"));
    assert_eq!(record(&data, "EE-IP")["scan_status"], "invalid-domain");
    assert_eq!(record(&data, "EE-T00")["provider"], "microsoft");

    // Two ids that would share one page: found when the seeds load, both named.
    std::fs::write(
        seeds.join("ee.json"),
        "[\n{\"id\": \"EE-X 1\", \"name\": \"Town\", \"domain\": \"direct.ee\"},\n{\"id\": \"EE-X-1\", \"name\": \"Town\", \"domain\": \"alias.ee\"}\n]\n",
    )
    .unwrap();
    let out = seed_build(&s, &seeds, "site2");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("id \"EE-X 1\" ({file}:2 (entry 0))"))
            && err.contains(&format!("id \"EE-X-1\" ({file}:3 (entry 1))"))
            && err.contains("ee/m/town-x-1/"),
        "{err}"
    );
    assert!(!err.contains("phase: scan"), "{err}");
}

#[test]
fn logs_carry_no_colour_codes_off_a_terminal() {
    let s = Scratch::new();
    let world = fixture("world").display().to_string();
    // A warning is logged (the fixture seeds hold an invalid domain).
    let out = usage_run(
        &s,
        &[
            "scan",
            "--countries",
            "ee",
            "--world",
            &world,
            "--progress",
            "plain",
        ],
        false,
    );
    let err = stderr(&out);
    ok(&out);
    assert!(err.contains("WARN"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "ANSI escape in piped stderr:\n{err}"
    );
}

#[test]
fn the_staging_folder_of_a_killed_run_is_removed_by_the_next_run() {
    let s = Scratch::new();
    let site = s.root.join("site");
    ok(&s.build(&site, &[]));
    // A render killed outright (SIGKILL) while it writes pages, held there by the
    // debug-only pause so that any machine gets there.
    let mut cmd = mxmap(&s.work());
    cmd.env("HOME", s.home())
        .env("MXMAP_TEST_SLOW", "render")
        .env("MXMAP_TEST_SLOW_MS", "200")
        .args(["render", "--countries", "ee,de", "--progress", "none"]);
    fixture_inputs(&mut cmd)
        .arg("--cache")
        .arg(s.root.join("cache.json"))
        .arg("--out")
        .arg(&site)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("spawn");
    let staging = s.root.join(format!(".site.tmp-{}", child.id()));
    let start = std::time::Instant::now();
    while !staging.join("assets").is_dir() {
        assert!(child.try_wait().unwrap().is_none(), "the render ended");
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "no staging folder"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(staging.is_dir(), "SIGKILL leaves the staging folder");
    // A folder of the same pattern, of no running process, that mxmap did not write
    // (no marker) is not touched.
    let foreign = s.root.join(".site.tmp-99999999");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("keep.txt"), "mine").unwrap();
    let before = snapshot(&site);
    ok(&s.build(&site, &[]));
    assert!(
        !staging.exists(),
        "the killed run's staging folder is still there"
    );
    assert_eq!(std::fs::read(foreign.join("keep.txt")).unwrap(), b"mine");
    assert_ne!(snapshot(&site), before);
    let ignored = std::fs::read_to_string(root().join(".gitignore")).unwrap();
    assert!(ignored.lines().any(|l| l == "/.site.tmp-*"), "{ignored}");
}
