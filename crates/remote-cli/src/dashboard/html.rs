//! HTML building blocks: escaping, the page layout, small formatting helpers.

use chrono::{DateTime, Utc};
use remote_core::JobStatus;

/// Text made safe for HTML element content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Text made safe for a URL query value.
pub fn url_value(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A time as `2030-01-01 12:00:00`, or `–`.
pub fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "–".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// How far `t` is from `now`, to the nearest second: `in 25s`, `3m ago`.
pub fn relative(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(t) = t else {
        return String::new();
    };
    let delta = t - now;
    let secs = (delta.num_milliseconds().unsigned_abs() + 500) / 1000;
    let amount = if secs < 90 {
        format!("{secs}s")
    } else if secs < 90 * 60 {
        format!("{}m", secs / 60)
    } else if secs < 36 * 3600 {
        format!("{}h", secs / 3600)
    } else {
        format!("{}d", secs / 86400)
    };
    if delta.num_milliseconds() >= 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// A coloured status label.
pub fn badge(status: JobStatus) -> String {
    format!("<span class=\"badge {status}\">{status}</span>")
}

/// JSON for a `<pre>` block.
pub fn pretty(value: &serde_json::Value) -> String {
    esc(&serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()))
}

/// A one-line excerpt of JSON for a table cell.
pub fn excerpt(value: &serde_json::Value, max: usize) -> String {
    esc(&crate::output::short(&value.to_string(), max))
}

const STYLE: &str = "
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#1f2937;color:#fff;padding:.6em 1.2em;display:flex;gap:1.2em;align-items:center}
header a{color:#e5e7eb;text-decoration:none}header a:hover{color:#fff}
header .brand{font-weight:bold;color:#fff}header .live{margin-left:auto;font-size:.85em}
main{padding:1em 1.5em;max-width:1400px}
table{border-collapse:collapse;width:100%;background:#fff;margin:.5em 0 1.5em}
th,td{border-bottom:1px solid #e5e7eb;padding:.35em .6em;text-align:left;vertical-align:top;font-size:.92em}
th{background:#f3f4f6}
code,pre,.mono{font-family:ui-monospace,monospace;font-size:.9em}
pre{background:#fff;border:1px solid #e5e7eb;padding:.6em;overflow:auto;max-height:30em;white-space:pre-wrap}
.cards{display:flex;gap:1em;flex-wrap:wrap;margin:1em 0}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:.7em 1.2em;min-width:8em;text-decoration:none;color:inherit}
.card .n{font-size:1.8em;font-weight:bold}
.badge{padding:.1em .5em;border-radius:4px;font-size:.85em;color:#fff;background:#6b7280}
.badge.queued{background:#2563eb}.badge.processing{background:#d97706}.badge.completed{background:#16a34a}
.badge.error{background:#dc2626}.badge.cancelled{background:#6b7280}
form.inline{display:inline}button{cursor:pointer}
.notice{background:#ecfdf5;border:1px solid #a7f3d0;padding:.5em 1em}
.problem{background:#fef2f2;border:1px solid #fecaca;padding:.5em 1em}
.muted{color:#6b7280}
form.search{display:flex;gap:.5em;flex-wrap:wrap;align-items:center;margin:.5em 0}
.bulk{margin:.3em 0}.bulk button{margin-right:.4em}
";

/// Every 5 s while "live" is ticked, no form field has focus and no job is selected: fetches
/// the page again and swaps in its `data-live` parts (or all of `<main>` on pages without
/// any), so the page stays current without reloading. Also the "select all" box of job lists.
const SCRIPT: &str = r#"(function(){
function busy(){var a=document.activeElement;return (a&&/^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName)&&a.id!=='live')||document.querySelector('input.sel:checked')}
function refresh(){var l=document.getElementById('live');if(!l||!l.checked||busy())return;
 fetch(location.href,{credentials:'same-origin'}).then(function(r){return r.ok?r.text():null}).then(function(t){if(!t||busy())return;
  var doc=new DOMParser().parseFromString(t,'text/html'),parts=document.querySelectorAll('[data-live]');
  if(parts.length){parts.forEach(function(p){var n=doc.getElementById(p.id);if(n)p.innerHTML=n.innerHTML})}
  else{var m=doc.querySelector('main'),here=document.querySelector('main');if(m&&here)here.innerHTML=m.innerHTML}}).catch(function(){})}
setInterval(refresh,5000);
document.addEventListener('change',function(e){if(e.target&&e.target.id==='select-all'){document.querySelectorAll('input.sel').forEach(function(c){c.checked=e.target.checked})}});
})();"#;

/// A whole page: navigation, an optional notice, the body; its live parts refresh every 5 s
/// while "live" is ticked (see `SCRIPT`), and the overview's charts every 2 s.
pub fn page(title: &str, notice: Option<&str>, body: &str) -> String {
    let notice = notice
        .filter(|n| !n.is_empty())
        .map(|n| format!("<p class=\"notice\">{}</p>", esc(n)))
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{title} · remote</title><style>{STYLE}{chart_style}</style></head><body>\
<header><a class=\"brand\" href=\"/\">remote</a><a href=\"/\">Overview</a><a href=\"/jobs\">Jobs</a>\
<a href=\"/schedule\">Schedule</a><a href=\"/workers\">Workers</a><a href=\"/metrics\">Metrics</a>\
<a href=\"/api\">API</a><label class=\"live\"><input type=\"checkbox\" id=\"live\" checked> live</label></header>\
<main><h1>{title}</h1>{notice}{body}</main><script>{SCRIPT}{chart_script}</script></body></html>",
        title = esc(title),
        chart_style = super::charts::STYLE,
        chart_script = super::charts::SCRIPT,
    )
}

/// A POST button (one-field form).
pub fn button(action: &str, label: &str, confirm: Option<&str>) -> String {
    let onsubmit = confirm
        .map(|c| format!(" onsubmit=\"return confirm('{}')\"", esc(c)))
        .unwrap_or_default();
    format!(
        "<form class=\"inline\" method=\"post\" action=\"{}\"{onsubmit}><button>{}</button></form>",
        esc(action),
        esc(label)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(url_value("a b&c"), "a%20b%26c");
    }

    #[test]
    fn relative_times_round_to_the_nearest_second() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |ms: i64| Some(now + chrono::TimeDelta::milliseconds(ms));
        assert_eq!(relative(at(9_990), now), "in 10s");
        assert_eq!(relative(at(10_400), now), "in 10s");
        assert_eq!(relative(at(-2_600), now), "3s ago");
        assert_eq!(relative(at(600_000), now), "in 10m");
        assert_eq!(relative(None, now), "");
    }
}
