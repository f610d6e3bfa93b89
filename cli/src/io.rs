//! Files, keys and the terminal: everything the commands read or write besides the ledger's
//! own storage, each failure naming the path it happened on.

use std::fmt::Display;
use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
use trailseal::keystore;
use trailseal::{Ledger, OpenOptions, Receipt, Signer, Verifier};

use crate::error::{io_fail, usage, Failure, Res};

/// Open an existing ledger, honouring `--wait`; warn when anyone on the machine can read it.
pub fn open_ledger(path: &Path, opts: &OpenOptions) -> Res<Ledger> {
    let l = Ledger::open_with(path, opts)?;
    warn_if_world_readable(path);
    Ok(l)
}

/// A ledger records who did what, often personal data: one every local user can read is
/// worth a line on stderr (once per command), not a refusal, since an operator may mean it.
fn warn_if_world_readable(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = fs::metadata(path) {
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o004 != 0 {
                eprintln!(
                    "trailseal: warning: {} is readable by every user of this machine (mode {mode:04o}); \
                     `chmod o-r` it unless that is meant (new ledgers are created 0600)",
                    path.display()
                );
            }
        }
    }
}

/// Set by `--insecure-key-file`: accept a key file that others can read.
pub static INSECURE_KEY_FILE: AtomicBool = AtomicBool::new(false);

/// Write to stdout; a full disk is an I/O failure (exit 3), not a panic. A reader that
/// closed the pipe (`trailseal trace … | head`) has all it wanted: a normal end, quietly.
pub fn emit(text: &str) -> Res {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .or_else(pipe_closed)
        .map_err(stdout_fail)
}

/// A closed pipe is not a failure of ours.
fn pipe_closed(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e)
    }
}

/// One value on a line of its own, as every JSON answer is printed.
pub fn emit_line(value: &impl Display) -> Res {
    emit(&format!("{value}\n"))
}

/// One line per value, each written as it comes: stdout is line-buffered, so a reader of a
/// long append sees every receipt as soon as its batch commits.
pub fn emit_lines<T: Display>(values: impl IntoIterator<Item = T>) -> Res {
    let mut out = io::stdout().lock();
    for v in values {
        if let Err(e) = writeln!(out, "{v}") {
            return pipe_closed(e).map_err(stdout_fail);
        }
    }
    out.flush().or_else(pipe_closed).map_err(stdout_fail)
}

/// The receipts of an append, as JSON Lines.
pub fn print_receipts(receipts: &[Receipt]) -> Res {
    emit_lines(receipts.iter().map(Receipt::to_json))
}

/// Failures writing stdout are named like those on a file, so the message says where.
pub fn stdout_fail(e: io::Error) -> Failure {
    io_fail(Path::new("stdout"), e)
}

/// The default signer key file, `LEDGER.key`: appended to the whole name, not replacing its
/// extension, so `audit.db` and `audit.log` keep keys of their own.
pub fn key_path(ledger: &Path) -> PathBuf {
    let mut s = ledger.as_os_str().to_owned();
    s.push(".key");
    PathBuf::from(s)
}

/// The environment variable naming the signer key file when `--key` is not given: a CI job
/// can point every signing command at a key mounted from its secret store.
pub const KEY_ENV: &str = "TRAILSEAL_KEY_FILE";

/// The key that signs `ledger`'s checkpoints, for a command about to sign with it.
///
/// The first place given is used: `--key`, else `TRAILSEAL_KEY_FILE`, else `LEDGER.key`. A
/// place given with no file there is not passed over for the next one, since that would sign
/// with a key other than the one asked for. When the file is not there, the usage error names where
/// it looked and the ledger's verifier key, which is how the right key file is recognised.
///
/// A key whose verifier is not the one the ledger recorded is refused here, before anything
/// is written: the core refuses it too, but only when it signs, and `gate --record` appends
/// its verdict first; here the message can also say which file it was.
pub fn ledger_signer(l: &Ledger, ledger: &Path, key: Option<&Path>) -> Res<Signer> {
    let from_env = std::env::var_os(KEY_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let (path, place) = match (key, from_env) {
        (Some(k), _) => (k.to_path_buf(), "--key".to_owned()),
        (None, Some(e)) => (e, KEY_ENV.to_owned()),
        (None, None) => (
            key_path(ledger),
            format!("the default, LEDGER.key: no --key and no {KEY_ENV}"),
        ),
    };
    if let Some(spec) = path.to_str().filter(|p| keystore::is_held_key_spec(p)) {
        // The held key signs under the name the ledger recorded for its key (or the origin
        // of a ledger from before keys were recorded), so its verifier key can match.
        let name = match l.verifier_key_in_force()? {
            Some(vk) => Verifier::from_key_string(&vk)?.name().to_owned(),
            None => l.origin().to_owned(),
        };
        let signer = Signer::open(spec, &name).map_err(|e| Failure::from(e).prefixed(&place))?;
        l.check_signer(&signer)
            .map_err(|e| Failure::from(e).prefixed(format!("{spec} ({place}), nothing written")))?;
        return Ok(signer);
    }
    if !path.exists() {
        let wanted = match l.verifier_key_in_force()? {
            Some(vk) => format!("the key whose verifier key is {vk}"),
            None => "its signer key".to_owned(),
        };
        return Err(usage(format!(
            "no signer key at {} ({place}); to sign for {}, give {wanted} with --key KEYFILE or {KEY_ENV}",
            path.display(),
            ledger.display()
        )));
    }
    let signer = read_signer(&path)?;
    // Checked here as well as when signing: `gate --record` writes its verdict before it signs.
    l.check_signer(&signer).map_err(|e| {
        Failure::from(e).prefixed(format!("{} ({place}), nothing written", path.display()))
    })?;
    Ok(signer)
}

/// A whole file as UTF-8 text.
pub fn read_text(path: &Path) -> Res<String> {
    fs::read_to_string(path).map_err(|e| io_fail(path, e))
}

/// A whole file as bytes (leaves, bundles).
pub fn read_bytes(path: &Path) -> Res<Vec<u8>> {
    fs::read(path).map_err(|e| io_fail(path, e))
}

/// The signer key held in `path`; a file that is not one is named in the message.
pub fn read_signer(path: &Path) -> Res<Signer> {
    check_key_file_mode(path)?;
    Signer::from_key_string(&read_text(path)?)
        .map_err(|e| Failure::from(e).prefixed(path.display()))
}

/// A key file its group or other users can read is a key others may already hold: refused,
/// unless `--insecure-key-file` says to go on (then said loudly, every time).
fn check_key_file_mode(path: &Path) -> Res {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .map_err(|e| io_fail(path, e))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            if !INSECURE_KEY_FILE.load(Ordering::Relaxed) {
                return Err(usage(format!(
                    "the signer key file {} can be read by others (mode {mode:04o}): `chmod 600` it, \
                     or pass --insecure-key-file to sign with it anyway",
                    path.display()
                )));
            }
            eprintln!(
                "trailseal: WARNING: signing with {} although others can read it (mode {mode:04o}, \
                 --insecure-key-file): anyone who read it can sign as this ledger",
                path.display()
            );
        }
    }
    Ok(())
}

/// The text of a verifier key given as the key string itself or as a file holding it: the
/// string is short enough to pass inline, the file is what `init` users tend to keep.
pub fn verifier_text(arg: &str) -> Res<String> {
    let path = Path::new(arg);
    if path.is_file() {
        read_text(path)
    } else {
        Ok(arg.to_owned())
    }
}

/// A verifier key given as [`verifier_text`] takes it, parsed.
pub fn read_verifier(arg: &str) -> Res<Verifier> {
    Ok(Verifier::from_key_string(&verifier_text(arg)?)?)
}

/// The texts of `--checkpoint FILE` and `--vkey VKEY`, each read when given, for
/// [`trailseal::Outside::pair`] to judge: whether one without the other is allowed is the
/// core's rule, not the command's.
pub fn outside_texts(
    checkpoint: Option<&Path>,
    vkey: Option<&str>,
) -> Res<(Option<String>, Option<String>)> {
    Ok((
        checkpoint.map(read_text).transpose()?,
        vkey.map(verifier_text).transpose()?,
    ))
}

/// Write a secret to a new file only its owner can read; an existing file is never
/// overwritten, so a mistyped path cannot destroy another key.
pub fn write_secret(path: &Path, text: &str) -> Res {
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path).map_err(|e| io_fail(path, e))?;
    writeln!(f, "{text}")
        .and_then(|_| f.sync_all())
        .map_err(|e| io_fail(path, e))
}

/// A progress bar of `len` steps, or a spinner when the length is not known in advance.
pub fn progress_bar(len: Option<u64>, what: &str) -> ProgressBar {
    // Only for a person watching: nothing extra when output goes to a pipe or file.
    if !io::stdout().is_terminal() || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (pb, template) = match len {
        Some(n) => (
            ProgressBar::new(n),
            "{spinner} {msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta})",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{spinner} {msg} {pos} ({per_sec})",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        pb.set_style(style);
    }
    pb.set_message(what.to_owned());
    pb
}
