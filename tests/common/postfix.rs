//! A throw-away Postfix instance on loopback: one `smtpd` per personality (address, MX
//! name, `-o` overrides, certificate), configured from the templates in
//! `tests/fixtures/smtp/postfix/`, stopped and killed when dropped (even when the test
//! fails). Needs the Debian `postfix` package and root.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::pki::Leaf;
use super::skip_missing;

/// The Postfix binary and root, or `None` after reporting what is missing
/// ([`skip_missing`]: a skip locally, a failure under CI).
pub fn prerequisites() -> Option<PathBuf> {
    let Some(postfix) = postfix_binary() else {
        skip_missing("postfix (apt-get install postfix)");
        return None;
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        skip_missing("root (starting Postfix needs it)");
        return None;
    }
    Some(postfix)
}

/// The Postfix variants: address, MX name, extra `-o` settings, certificate.
pub struct Variant {
    /// Listening address.
    pub ip: Ipv4Addr,
    /// `myhostname` (the greeting and EHLO name).
    pub host: &'static str,
    /// Extra `-o name=value` settings.
    pub options: &'static str,
    /// Certificate; none leaves Postfix without one.
    pub leaf: Option<Leaf>,
}

/// A started Postfix instance; stopped (and its leftovers killed) when dropped, even when
/// the test fails.
pub struct Postfix {
    postfix: PathBuf,
    conf: PathBuf,
    master_pid: Option<i32>,
    dir: tempfile::TempDir,
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new(&self.postfix)
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .output();
        let Some(pid) = self.master_pid else {
            return;
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        // master is a session leader; what is left of its process group goes with it.
        // SAFETY: kill(2) with a process group id we started; no memory is involved.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// True while `pid` runs (a zombie waiting for its reaper counts as gone).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(") ")
                .map(|(_, rest)| !rest.starts_with('Z'))
        })
        .unwrap_or(false)
}

pub fn postfix_binary() -> Option<PathBuf> {
    ["/usr/sbin/postfix", "/usr/local/sbin/postfix"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A port free on every variant address.
pub fn free_port(ips: &[Ipv4Addr]) -> u16 {
    for port in (10025..10125).chain(20025..20125) {
        let all_free = ips
            .iter()
            .all(|ip| std::net::TcpListener::bind((*ip, port)).is_ok());
        if all_free {
            return port;
        }
    }
    panic!("no free port for Postfix on {ips:?}");
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

impl Postfix {
    /// Writes the configuration for `variants` on `port` and starts Postfix.
    pub fn start(postfix: PathBuf, variants: &[Variant], port: u16) -> Postfix {
        Postfix::start_with(postfix, variants, port, "")
    }

    /// [`Postfix::start`] with `main_cf` appended to the main.cf template (settings
    /// shared by every variant).
    pub fn start_with(postfix: PathBuf, variants: &[Variant], port: u16, main_cf: &str) -> Postfix {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        // Postfix daemons drop to the postfix user and must reach the queue and data
        // folders below this one.
        run_ok(Command::new("chmod").arg("755").arg(&root));
        for sub in ["conf", "queue", "data", "log", "certs"] {
            std::fs::create_dir(root.join(sub)).expect("mkdir");
        }
        // Trap: master takes its lock in data_directory as the postfix user.
        run_ok(Command::new("chown").arg("postfix").arg(root.join("data")));
        let conf = root.join("conf");
        let fixture = super::fixture("smtp/postfix");
        let main_cf_template =
            std::fs::read_to_string(fixture.join("main.cf")).expect("main.cf template");
        let main_cf_template = main_cf_template.replace("@DIR@", &root.display().to_string());
        write(
            &conf.join("main.cf"),
            &format!("{main_cf_template}\n{main_cf}"),
        );
        let mut master_cf =
            std::fs::read_to_string(fixture.join("master.cf")).expect("master.cf template");
        for (i, v) in variants.iter().enumerate() {
            let mut options = format!("-o myhostname={} {}", v.host, v.options);
            if let Some(leaf) = &v.leaf {
                let cert = root.join(format!("certs/{i}.crt"));
                let key = root.join(format!("certs/{i}.key"));
                write(&cert, &leaf.chain_pem());
                write(&key, &leaf.key.serialize_pem());
                options.push_str(&format!(
                    " -o smtpd_tls_cert_file={} -o smtpd_tls_key_file={}",
                    cert.display(),
                    key.display()
                ));
            }
            master_cf.push_str(&format!("{}:{port} inet n - n - - smtpd {options}\n", v.ip));
        }
        write(&conf.join("master.cf"), &master_cf);

        let mut instance = Postfix {
            postfix,
            conf,
            master_pid: None,
            dir,
        };
        let out = Command::new(&instance.postfix)
            .arg("-c")
            .arg(&instance.conf)
            .arg("start")
            .output()
            .expect("run postfix");
        let log = instance.log();
        assert!(
            out.status.success(),
            "postfix start failed ({}): {}{}\nlog:\n{log}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let pid_file = root.join("queue/pid/master.pid");
        let deadline = Instant::now() + Duration::from_secs(10);
        while instance.master_pid.is_none() && Instant::now() < deadline {
            instance.master_pid = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|t| t.trim().parse().ok());
            std::thread::sleep(Duration::from_millis(50));
        }
        for v in variants {
            let addr = SocketAddr::from((v.ip, port));
            let up = (0..100).any(|_| {
                let ok =
                    std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
                if !ok {
                    std::thread::sleep(Duration::from_millis(100));
                }
                ok
            });
            assert!(
                up,
                "Postfix does not listen on {addr}\nlog:\n{}",
                instance.log()
            );
        }
        instance
    }

    /// Postfix's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log/postfix.log")).unwrap_or_default()
    }
}
