//! Turning cluster objects into what people read: the `get rollout` view model ([`info`]), its
//! text tree ([`tree`]) and the live, in-place redraw of `--watch` ([`screen`]). Rendering is
//! pure (objects + time in, text out), so it is snapshot-tested without a cluster.

pub mod info;
pub mod screen;
pub mod tree;

#[cfg(test)]
mod tests;

use std::io::IsTerminal;

/// Colour on stdout only when it is a terminal and `NO_COLOR` is unset or empty
/// (<https://no-color.org>), and `TERM` is not `dumb`.
pub fn stdout_color() -> bool {
    std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// The terminal's width, when stdout is a terminal.
pub fn stdout_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    crossterm::terminal::size().ok().map(|(w, _)| usize::from(w))
}
