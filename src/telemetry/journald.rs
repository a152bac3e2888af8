//! Text lines for journald: each line starts with its syslog priority (`<3>` error .. `<7>`
//! debug), which journald strips and stores as PRIORITY, so `journalctl -p warning` works.
//! No timestamp (journald stamps every line) and no colours.

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::syslog_priority;

/// Wraps a text formatter with the priority prefix.
#[derive(Debug)]
pub struct Prefixed<F> {
    /// The formatter that writes the rest of the line.
    pub inner: F,
}

impl<S, N, F> FormatEvent<S, N> for Prefixed<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        write!(writer, "<{}>", syslog_priority(event.metadata().level()))?;
        self.inner.format_event(ctx, writer, event)
    }
}
