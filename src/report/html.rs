//! `index.html`: one page that shows a run report together — the verdict, the
//! line that reproduces it, the nemesis parameters the seed drew, the counters,
//! and every chart. It works offline: inline CSS, no script, the charts referenced
//! by relative path (SVG shown, PNG linked).

use super::Summary;
use super::run_charts::ChartFile;
use crate::sim::time::format_nanos;
use std::fmt::Write;

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            _ => escaped.push(character),
        }
    }
    escaped
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Verdana,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}\
.verdict{font-size:1.2em;font-weight:bold;padding:.5em .8em;border-radius:4px}\
.pass{background:#e3f5e1;color:#1b5e20}.fail{background:#fde2e1;color:#b71c1c}\
pre{background:#f5f5f5;padding:.6em;overflow-x:auto;white-space:pre-wrap}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
figure{margin:1.5em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.9em;color:#555}";

/// Rows `name | value` of a JSON object, nested objects flattened with dots, in
/// key order.
fn flatten(prefix: &str, value: &serde_json::Value, rows: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&name, inner, rows);
            }
        }
        serde_json::Value::String(text) => rows.push((prefix.to_string(), text.clone())),
        serde_json::Value::Null => rows.push((prefix.to_string(), "—".into())),
        other => rows.push((prefix.to_string(), other.to_string())),
    }
}

fn table(html: &mut String, rows: &[(String, String)]) {
    html.push_str("<table>\n");
    for (name, value) in rows {
        let numeric = value.parse::<f64>().is_ok();
        let _ = writeln!(
            html,
            "<tr><th>{}</th><td{}>{}</td></tr>",
            escape(name),
            if numeric { " class=\"n\"" } else { "" },
            escape(value)
        );
    }
    html.push_str("</table>\n");
}

/// The page for a run report whose charts are `charts`.
pub fn run_index(summary: &Summary, charts: &[ChartFile]) -> String {
    let mut html = String::new();
    let title = summary
        .scenario_name
        .clone()
        .unwrap_or_else(|| summary.scenario.clone());
    let _ = writeln!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>faultline: {} seed {}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        escape(&title),
        summary.seed
    );
    let _ = writeln!(html, "<h1>{} — seed {}</h1>", escape(&title), summary.seed);
    match summary.violations.first() {
        None => html.push_str("<p class=\"verdict pass\">PASS: every check held</p>\n"),
        Some(first) => {
            let _ = writeln!(
                html,
                "<p class=\"verdict fail\">FAIL: {} ({}) at {}, event #{}</p>\n<pre>{}</pre>",
                escape(&first.checker),
                escape(&first.property),
                format_nanos(first.time),
                first.event,
                escape(&first.message)
            );
            for other in summary.violations.iter().skip(1) {
                let _ = writeln!(
                    html,
                    "<p>also {} ({}):</p>\n<pre>{}</pre>",
                    escape(&other.checker),
                    escape(&other.property),
                    escape(&other.message)
                );
            }
        }
    }
    let _ = writeln!(
        html,
        "<h2>Reproduce</h2>\n<pre>{}</pre>\n<p>or <code>faultline replay DIR</code> on this report directory (it re-runs <a href=\"scenario.toml\">scenario.toml</a> and checks the trace hash).</p>",
        escape(&summary.repro)
    );
    html.push_str("<h2>Run</h2>\n");
    let bugs = if summary.bugs.is_empty() {
        "none".to_string()
    } else {
        summary.bugs.join(", ")
    };
    table(
        &mut html,
        &[
            ("scenario".into(), summary.scenario.clone()),
            ("protocol".into(), summary.protocol.clone()),
            ("planted bugs".into(), bugs),
            ("seed".into(), summary.seed.to_string()),
            ("nemesis".into(), summary.nemesis.to_string()),
            ("trace hash".into(), summary.trace_hash.clone()),
            ("events".into(), summary.events.to_string()),
            ("virtual time".into(), format_nanos(summary.virtual_time)),
            ("tool".into(), summary.tool.clone()),
        ],
    );
    if let Some(swarm) = &summary.swarm {
        html.push_str("<h2>Nemesis parameters this seed drew (swarm)</h2>\n");
        let mut rows = Vec::new();
        flatten("", swarm, &mut rows);
        table(&mut html, &rows);
    }
    html.push_str("<h2>Counters</h2>\n");
    let mut rows = Vec::new();
    flatten(
        "",
        &serde_json::to_value(&summary.stats).expect("stats serialise"),
        &mut rows,
    );
    table(&mut html, &rows);
    if !summary.sometimes.is_empty() {
        html.push_str("<h2><i>Sometimes</i> points reached</h2>\n");
        let rows: Vec<(String, String)> = summary
            .sometimes
            .iter()
            .map(|(name, count)| (name.clone(), count.to_string()))
            .collect();
        table(&mut html, &rows);
    }
    html.push_str("<h2>Charts</h2>\n");
    for chart in charts {
        let _ = write!(
            html,
            "<figure>\n<a href=\"{stem}.svg\"><img src=\"{stem}.svg\" alt=\"{title}\"></a>\n<figcaption>{title} — <a href=\"{stem}.svg\">SVG</a>",
            stem = escape(&chart.stem),
            title = escape(&chart.title)
        );
        if chart.png {
            let _ = write!(html, ", <a href=\"{}.png\">PNG</a>", escape(&chart.stem));
        }
        html.push_str("</figcaption>\n</figure>\n");
    }
    html.push_str("<h2>Files</h2>\n<ul>\n<li><a href=\"summary.json\">summary.json</a> — everything above, as JSON</li>\n<li><a href=\"history.jsonl\">history.jsonl</a> — the client history</li>\n<li><a href=\"scenario.toml\">scenario.toml</a> — the scenario copy <code>replay</code> uses</li>\n</ul>\n</body>\n</html>\n");
    html
}
