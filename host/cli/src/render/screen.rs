//! The live view of `--watch`: each frame overwrites the previous one in place.
//!
//! Flicker comes from clearing the screen and then drawing; here nothing is cleared first. The
//! cursor goes back up to the frame's first line, each line is overwritten and the rest of it
//! cleared, and only what is below the new frame is erased, all in one write and one flush. An
//! unchanged frame is not written at all. The frame is cut to the terminal's height (a frame
//! taller than the screen could not be reached again to be redrawn), and earlier terminal output
//! stays in the scrollback.
//!
//! When stdout is not a terminal (a pipe, a CI log), frames are printed one after the other,
//! separated by a blank line, with no escape sequences, and only when something other than the
//! ages changed (see [`Screen::draw_keyed`]).

use std::io::{IsTerminal, Write};

use crossterm::{QueueableCommand, cursor, terminal};

/// Where frames go.
pub struct Screen {
    tty: bool,
    last: Option<String>,
    height: u16,
}

impl Default for Screen {
    fn default() -> Self {
        Screen::new()
    }
}

impl Screen {
    /// A screen on stdout.
    pub fn new() -> Screen {
        Screen { tty: std::io::stdout().is_terminal(), last: None, height: 0 }
    }

    /// Whether frames are redrawn in place (stdout is a terminal).
    pub fn is_live(&self) -> bool {
        self.tty
    }

    /// Shows `frame` if `key` differs from the last frame's key: when frames are not redrawn in
    /// place, the caller leaves out of `key` what changes all the time (ages).
    pub fn draw_keyed(&mut self, frame: &str, key: &str) -> std::io::Result<()> {
        let key = if self.tty { frame } else { key };
        if self.last.as_deref() == Some(key) {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        if !self.tty {
            if self.last.is_some() {
                out.write_all(b"\n")?;
            }
            out.write_all(frame.as_bytes())?;
            out.flush()?;
            self.last = Some(key.to_string());
            return Ok(());
        }
        let rows = terminal::size().map(|(_, h)| h).unwrap_or(50).max(2);
        let lines: Vec<&str> = frame.lines().take(usize::from(rows - 1)).collect();
        if self.height == 0 {
            out.queue(cursor::Hide)?;
        } else {
            out.queue(cursor::MoveToPreviousLine(self.height))?;
        }
        for line in &lines {
            out.write_all(line.as_bytes())?;
            out.queue(terminal::Clear(terminal::ClearType::UntilNewLine))?;
            out.write_all(b"\n")?;
        }
        out.queue(terminal::Clear(terminal::ClearType::FromCursorDown))?;
        out.flush()?;
        self.height = u16::try_from(lines.len()).unwrap_or(u16::MAX);
        self.last = Some(frame.to_string());
        Ok(())
    }

    /// Gives the cursor back; the last frame stays on screen.
    pub fn finish(&mut self) {
        if self.tty {
            let mut out = std::io::stdout().lock();
            let _ = out.queue(cursor::Show);
            let _ = out.flush();
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        self.finish();
    }
}
