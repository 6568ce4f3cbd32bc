//! All human output: stage lines, progress, warnings and the final summary, on stderr.
//! Stages call the reporter; they never print. Data (`plan` listings, `--json`) goes to stdout
//! through `output::stdout`, not through here. In GitHub Actions each stage is a collapsible group
//! (`::group::`) and warnings are annotations (`::warning::`); the runner reads workflow
//! commands from stderr as from stdout, so `--json` on stdout stays clean.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use shipit_core::files::shown;
use shipit_core::summary::human_bytes;
use shipit_engine::ports::{Progress as ProgressPort, Reporter};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Errors only (`-q`).
    Quiet,
    /// One line per event; progress every few seconds (CI, pipes, `--no-progress`).
    Plain,
    /// Progress bars on a terminal.
    Tty,
}

pub struct Terminal {
    mode: Mode,
    verbose: u8,
    out: Mutex<Box<dyn Write + Send>>,
    /// GitHub Actions: stages are groups, warnings annotations.
    github: bool,
    group_open: Mutex<bool>,
}

impl Terminal {
    /// Chooses the mode from the flags and the environment: bars only on a terminal outside CI.
    pub fn from_env(quiet: bool, verbose: u8, no_progress: bool) -> Terminal {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        let mode = if quiet {
            Mode::Quiet
        } else if no_progress || ci || !std::io::stderr().is_terminal() {
            Mode::Plain
        } else {
            Mode::Tty
        };
        let mut r = Terminal::new(mode, verbose, Box::new(std::io::stderr()));
        r.github = super::gha::enabled(|k| std::env::var(k).ok());
        r
    }

    pub fn new(mode: Mode, verbose: u8, out: Box<dyn Write + Send>) -> Terminal {
        Terminal {
            mode,
            verbose,
            out: Mutex::new(out),
            github: false,
            group_open: Mutex::new(false),
        }
    }

    /// Reports as GitHub Actions wants it (for tests; `from_env` reads GITHUB_ACTIONS).
    #[cfg(test)]
    pub fn with_github(mut self, on: bool) -> Terminal {
        self.github = on;
        self
    }

    pub fn github(&self) -> bool {
        self.github
    }

    /// Ends the open group, if any (before errors and summaries, so they stay visible).
    pub fn close(&self) {
        let mut open = self.group_open.lock().unwrap_or_else(|e| e.into_inner());
        if *open {
            self.line("::endgroup::");
            *open = false;
        }
    }

    /// A failure: a line and its hint for people, an annotation in GitHub Actions.
    pub fn error(&self, message: &str, hint: Option<&str>) {
        self.close();
        self.line(&format!("error: {message}"));
        if let Some(h) = hint {
            self.line(&format!("hint: {h}"));
        }
        if self.github {
            self.line(&super::gha::error_command(message, hint));
        }
    }

    /// Writes one line. Control characters in it (an ESC from a file name that would drive
    /// the terminal, a newline that would split the message) are escaped: every message is
    /// one line, whatever names it carries.
    fn line(&self, text: &str) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(out, "{}", shown(text));
    }
}

impl Reporter for Terminal {
    /// The start of a pipeline stage.
    fn stage(&self, text: &str) {
        if self.mode == Mode::Quiet {
            return;
        }
        if self.github {
            self.close();
            self.line(&format!("::group::{}", super::gha::escape(text)));
            *self.group_open.lock().unwrap_or_else(|e| e.into_inner()) = true;
        } else {
            self.line(&format!("==> {text}"));
        }
    }

    fn info(&self, text: &str) {
        if self.mode != Mode::Quiet {
            self.line(&format!("    {text}"));
        }
    }

    /// Shown with `-v`.
    fn detail(&self, text: &str) {
        if self.verbose > 0 && self.mode != Mode::Quiet {
            self.line(&format!("    {text}"));
        }
    }

    fn warn(&self, text: &str) {
        if self.github {
            self.line(&format!(
                "::warning title=shipit::{}",
                super::gha::escape(text)
            ));
        } else {
            self.line(&format!("warning: {text}"));
        }
    }

    fn verbose(&self) -> u8 {
        self.verbose
    }

    /// Progress over `items` items of `bytes` bytes in total.
    fn progress<'a>(&'a self, label: &str, items: u64, bytes: u64) -> Box<dyn ProgressPort + 'a> {
        let bar = (self.mode == Mode::Tty && items > 0).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(bytes.max(1)), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "    {msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {elapsed}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_message(format!("{label} 0/{items}"));
            bar
        });
        Box::new(Progress {
            reporter: self,
            label: label.to_string(),
            items,
            bytes,
            bar,
            state: Mutex::new(ProgressState {
                items: 0,
                bytes: 0,
                last_line: Instant::now(),
            }),
        })
    }
}

struct ProgressState {
    items: u64,
    bytes: u64,
    last_line: Instant,
}

pub struct Progress<'a> {
    reporter: &'a Terminal,
    label: String,
    items: u64,
    bytes: u64,
    bar: Option<ProgressBar>,
    state: Mutex<ProgressState>,
}

/// How often plain mode prints a progress line.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

impl ProgressPort for Progress<'_> {
    /// One item done, `bytes` of it sent.
    fn inc(&self, bytes: u64) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.items += 1;
        s.bytes += bytes;
        if let Some(bar) = &self.bar {
            bar.set_position(s.bytes);
            bar.set_message(format!("{} {}/{}", self.label, s.items, self.items));
        } else if self.reporter.mode == Mode::Plain && s.last_line.elapsed() >= PLAIN_EVERY {
            s.last_line = Instant::now();
            self.reporter.info(&format!(
                "{} {}/{} ({} of {})",
                self.label,
                s.items,
                self.items,
                human_bytes(s.bytes),
                human_bytes(self.bytes)
            ));
        }
    }

    fn finish(self: Box<Self>) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn github_actions_groups_stages_and_annotates_failures() {
        let buf = Buf::default();
        let r = Terminal::new(Mode::Plain, 0, Box::new(buf.clone())).with_github(true);
        r.stage("planning");
        r.info("3 files");
        r.stage("uploading 100%");
        r.warn("slow\nnetwork");
        r.error("upload failed", Some("retry"));
        r.close();
        assert_eq!(
            String::from_utf8(buf.0.lock().unwrap().clone()).unwrap(),
            "::group::planning\n    3 files\n::endgroup::\n::group::uploading 100%25\n\
             ::warning title=shipit::slow%0Anetwork\n::endgroup::\nerror: upload failed\nhint: retry\n\
             ::error title=shipit::upload failed%0Ahint: retry\n"
        );
    }

    #[test]
    fn names_cannot_drive_the_terminal_or_split_a_line() {
        let buf = Buf::default();
        let r = Terminal::new(Mode::Plain, 1, Box::new(buf.clone()));
        r.info("upload evil\u{1b}[2J.txt");
        r.error("cannot read: two\nlines.txt", Some("rename it"));
        assert_eq!(
            String::from_utf8(buf.0.lock().unwrap().clone()).unwrap(),
            "    upload evil\\u{1b}[2J.txt\nerror: cannot read: two\\nlines.txt\nhint: rename it\n"
        );
        // In GitHub Actions, CR and LF are the annotation's own line breaks; ESC is escaped.
        let buf = Buf::default();
        let r = Terminal::new(Mode::Plain, 0, Box::new(buf.clone())).with_github(true);
        r.warn("a\u{1b}b\nc");
        assert_eq!(
            String::from_utf8(buf.0.lock().unwrap().clone()).unwrap(),
            "::warning title=shipit::a\\u{1b}b%0Ac\n"
        );
    }

    #[test]
    fn quiet_shows_only_warnings_and_verbose_shows_details() {
        let buf = Buf::default();
        let r = Terminal::new(Mode::Quiet, 0, Box::new(buf.clone()));
        r.stage("s");
        r.info("i");
        r.warn("w");
        assert_eq!(
            String::from_utf8(buf.0.lock().unwrap().clone()).unwrap(),
            "warning: w\n"
        );

        let buf = Buf::default();
        let r = Terminal::new(Mode::Plain, 1, Box::new(buf.clone()));
        r.stage("s");
        r.detail("d");
        let p = r.progress("upload", 2, 10);
        p.inc(5);
        p.inc(5);
        p.finish();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "==> s\n    d\n");
    }

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.0 MiB");
    }
}
