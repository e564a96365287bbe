//! Trace context (R35): the W3C `traceparent` of the span that added a job, kept with the job so
//! that each attempt's span can link back to it across processes and stores.
//!
//! With the `otel` feature the processor takes the current OpenTelemetry span (through
//! `tracing-opentelemetry`) when a job is made and links every attempt's `attempt` span to it;
//! without the feature a job carries only the context an application gave in
//! [`JobOptions::trace_context`](crate::JobOptions::trace_context), stored and returned as is.

use crate::error::{Error, Result};

/// A parsed `traceparent`: version 00, trace id, parent span id, trace flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TraceParent {
    pub(crate) trace_id: u128,
    pub(crate) span_id: u64,
    pub(crate) flags: u8,
}

impl TraceParent {
    /// Reads `00-<32 hex>-<16 hex>-<2 hex>` (lower case), refusing the all-zero ids the W3C
    /// format forbids.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('-');
        let (version, trace, span, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let hex = |s: &str, len: usize| {
            (s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
                .then(|| u128::from_str_radix(s, 16).ok())
                .flatten()
        };
        if parts.next().is_some() || version != "00" {
            return None;
        }
        let parsed = Self {
            trace_id: hex(trace, 32)?,
            span_id: u64::try_from(hex(span, 16)?).ok()?,
            flags: u8::try_from(hex(flags, 2)?).ok()?,
        };
        (parsed.trace_id != 0 && parsed.span_id != 0).then_some(parsed)
    }

    /// The `traceparent` text.
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) fn format(&self) -> String {
        format!(
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id, self.span_id, self.flags
        )
    }
}

/// Checks a trace context given from outside: a well-formed `traceparent` or an
/// `Error::InvalidInput` naming what is wrong.
pub(crate) fn validate(text: &str) -> Result<()> {
    match TraceParent::parse(text) {
        Some(_) => Ok(()),
        None => Err(Error::InvalidInput(format!(
            "trace context {text:?} is not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)"
        ))),
    }
}

/// The current span's context as a `traceparent`, when it is part of an OpenTelemetry trace.
#[cfg(feature = "otel")]
pub(crate) fn current() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    let context = tracing::Span::current().context();
    let span = context.span();
    let sc = span.span_context();
    sc.is_valid().then(|| {
        TraceParent {
            trace_id: u128::from_be_bytes(sc.trace_id().to_bytes()),
            span_id: u64::from_be_bytes(sc.span_id().to_bytes()),
            flags: sc.trace_flags().to_u8(),
        }
        .format()
    })
}

/// The current span's context: none without the `otel` feature.
#[cfg(not(feature = "otel"))]
pub(crate) fn current() -> Option<String> {
    None
}

/// Links `span` to the span a stored `traceparent` names; a missing or malformed one (a store
/// written by hand) links nothing.
#[cfg(feature = "otel")]
pub(crate) fn link(span: &tracing::Span, traceparent: Option<&str>) {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    if let Some(parent) = traceparent.and_then(TraceParent::parse) {
        span.add_link(SpanContext::new(
            TraceId::from_bytes(parent.trace_id.to_be_bytes()),
            SpanId::from_bytes(parent.span_id.to_be_bytes()),
            TraceFlags::new(parent.flags),
            true,
            TraceState::NONE,
        ));
    }
}

/// Links nothing without the `otel` feature.
#[cfg(not(feature = "otel"))]
pub(crate) fn link(_span: &tracing::Span, _traceparent: Option<&str>) {}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_traceparent_reads_and_writes_back_the_same_text() {
        let parsed = TraceParent::parse(SAMPLE).expect("well formed");
        assert_eq!(parsed.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(parsed.span_id, 0x00f067aa0ba902b7);
        assert_eq!(parsed.flags, 1);
        assert_eq!(parsed.format(), SAMPLE);
    }

    #[test]
    fn malformed_traceparents_are_refused_with_a_typed_error() {
        for bad in [
            "",
            "00",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-+1",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(
                matches!(validate(bad), Err(Error::InvalidInput(_))),
                "{bad:?} was accepted"
            );
        }
        assert!(validate(SAMPLE).is_ok());
    }
}
