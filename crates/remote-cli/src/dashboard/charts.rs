//! The overview's live charts: completed, failed and retried jobs per second, queue depth by
//! job name, run-time and queue-latency percentiles. The data comes from this process's
//! attempt events (see [`crate::timeline`]) and from the store; a small inline script draws
//! it as SVG and fetches `/api/charts` every two seconds, so the charts move without a reload.

use std::collections::BTreeMap;

use remote_core::{JobQuery, JobStatus};
use serde::Serialize;
use serde_json::{json, Value};

use super::Dashboard;

/// Most queued (and most processing) jobs read to count the queue depth by job name; past it
/// the depth says it is at least that.
pub(super) const DEPTH_SCAN: u64 = 5000;

/// Jobs waiting and running, by job name.
#[derive(Clone, Debug, Default, Serialize)]
pub(super) struct Depth {
    /// Queued jobs of the name.
    pub queued: u64,
    /// Processing jobs of the name.
    pub processing: u64,
}

/// Jobs queued and processing per job name, read from the store; `complete` is false when a
/// status had more than [`DEPTH_SCAN`] jobs, which were not all counted.
async fn depth(d: &Dashboard) -> remote_core::Result<(BTreeMap<String, Depth>, bool)> {
    let mut by_name: BTreeMap<String, Depth> = BTreeMap::new();
    let mut complete = true;
    for status in [JobStatus::Queued, JobStatus::Processing] {
        let jobs = d
            .processor
            .list_jobs(&JobQuery {
                statuses: vec![status],
                oldest_first: true,
                limit: Some(DEPTH_SCAN + 1),
                ..JobQuery::default()
            })
            .await?;
        complete &= jobs.len() as u64 <= DEPTH_SCAN;
        for job in jobs.iter().take(DEPTH_SCAN as usize) {
            let entry = by_name.entry(job.job_name.clone()).or_default();
            match status {
                JobStatus::Queued => entry.queued += 1,
                _ => entry.processing += 1,
            }
        }
    }
    Ok((by_name, complete))
}

/// The charts' data for a window of `window` seconds (300 or 3600): rates in 60 points,
/// percentiles, depth by name and the store's counts.
pub(super) async fn data(d: &Dashboard, window: u64) -> remote_core::Result<Value> {
    let window = if window > 300 { 3600 } else { 300 };
    let rates = d.metrics.rates(window, window / 60);
    let (depth, depth_complete) = depth(d).await?;
    let counts = d.processor.count_jobs().await?;
    let total: u64 = counts.values().sum();
    Ok(json!({
        "rates": rates,
        "depth": depth,
        "depth_complete": depth_complete,
        "counts": counts,
        "total": total,
    }))
}

/// The charts' place on the overview; the script fills it.
pub(super) fn section() -> String {
    "<section id=\"charts\" data-window=\"300\" data-updates=\"0\">\
<div class=\"chart-head\"><h2>Throughput <span class=\"muted small\">jobs per second, this process</span></h2>\
<span class=\"win\"><button type=\"button\" data-w=\"300\" class=\"on\">5 min</button>\
<button type=\"button\" data-w=\"3600\">1 h</button></span>\
<span id=\"chart-updated\" class=\"muted small\">waiting for data…</span></div>\
<svg id=\"chart-rates\" viewBox=\"0 0 640 170\" role=\"img\" aria-label=\"completed, failed and retried jobs per second\"></svg>\
<div class=\"legend\"><span class=\"k completed\">completed</span><span class=\"k failed\">failed</span>\
<span class=\"k retried\">retried</span></div>\
<div class=\"grid2\"><div><h3>Queue depth by job name</h3>\
<svg id=\"chart-depth\" viewBox=\"0 0 420 40\" role=\"img\" aria-label=\"queued and processing jobs by name\"></svg>\
<div class=\"legend\"><span class=\"k queued\">queued</span><span class=\"k processing\">processing</span></div></div>\
<div><h3>Run time and queue latency <span class=\"muted small\" id=\"lat-window\"></span></h3>\
<table id=\"chart-latency\"><tr><th></th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>attempts</th></tr>\
<tr id=\"lat-run\"><th>run time</th><td></td><td></td><td></td><td></td><td></td></tr>\
<tr id=\"lat-queue\"><th>queue latency</th><td></td><td></td><td></td><td></td><td></td></tr></table></div></div>\
</section>"
        .to_string()
}

/// Styles of the charts.
pub(super) const STYLE: &str = "
#charts{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:.6em 1em;margin:1em 0}
.chart-head{display:flex;gap:1em;align-items:baseline;flex-wrap:wrap}.chart-head h2{margin:.2em 0}
.win button{border:1px solid #d1d5db;background:#f9fafb;padding:.1em .6em}.win button.on{background:#1f2937;color:#fff}
#chart-rates{width:100%;height:auto;max-height:300px}#chart-depth{width:100%}
.legend{font-size:.85em;display:flex;gap:1em}.legend .k:before{content:'';display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-.1em}
.k.completed:before{background:#16a34a}.k.failed:before{background:#dc2626}.k.retried:before{background:#d97706}
.k.queued:before{background:#2563eb}.k.processing:before{background:#d97706}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:1.5em}.small{font-size:.8em;font-weight:normal}
svg text{font:11px system-ui,sans-serif;fill:#6b7280}
";

/// The script that draws and refreshes the charts.
pub(super) const SCRIPT: &str = r#"(function(){
var sec=document.getElementById('charts');if(!sec)return;
var NS='http://www.w3.org/2000/svg',win=+sec.dataset.window,n=0;
function el(t,a,txt){var e=document.createElementNS(NS,t);for(var k in a)e.setAttribute(k,a[k]);if(txt!=null)e.textContent=txt;return e}
function clear(s){while(s.firstChild)s.removeChild(s.firstChild)}
function num(v){return v>=100?v.toFixed(0):v>=10?v.toFixed(1):v>=1?v.toFixed(2):v.toFixed(3).replace(/0+$/,'').replace(/\.$/,'')}
function dur(s){if(s==null)return '–';if(s<1)return (s*1000).toFixed(s<0.01?2:0)+' ms';if(s<120)return s.toFixed(s<10?2:1)+' s';return (s/60).toFixed(1)+' min'}
function rates(r){var svg=document.getElementById('chart-rates');clear(svg);
 var W=640,H=170,L=44,R=6,T=8,B=20,keys=['completed','failed','retried'],col={completed:'#16a34a',failed:'#dc2626',retried:'#d97706'};
 var max=0;keys.forEach(function(k){r[k].forEach(function(v){if(v>max)max=v})});max=max>0?max*1.1:1;
 for(var i=0;i<=4;i++){var y=T+(H-T-B)*i/4;svg.appendChild(el('line',{x1:L,x2:W-R,y1:y,y2:y,stroke:'#eef0f3'}));
  svg.appendChild(el('text',{x:L-4,y:y+4,'text-anchor':'end'},num(max*(4-i)/4)))}
 var len=r.completed.length,span=r.window_s>=3600?'-1 h':'-5 min';
 svg.appendChild(el('text',{x:L,y:H-4},span));svg.appendChild(el('text',{x:W-R,y:H-4,'text-anchor':'end'},'now'));
 keys.forEach(function(k){var pts=r[k].map(function(v,i){return (L+(W-L-R)*i/Math.max(1,len-1)).toFixed(1)+','+(H-B-(H-T-B)*v/max).toFixed(1)}).join(' ');
  var sum=r[k].reduce(function(a,v){return a+v*r.step_s},0);
  svg.appendChild(el('polyline',{points:pts,fill:'none',stroke:col[k],'stroke-width':2,'stroke-linejoin':'round','class':'line '+k,'data-jobs':Math.round(sum)}))})}
function depth(d,complete){var svg=document.getElementById('chart-depth');clear(svg);
 var names=Object.keys(d).sort(function(a,b){return (d[b].queued+d[b].processing)-(d[a].queued+d[a].processing)});
 if(!names.length){svg.setAttribute('viewBox','0 0 420 24');svg.appendChild(el('text',{x:0,y:16},'no job queued or processing'));return}
 var W=420,L=110,row=22,max=1;names.forEach(function(k){max=Math.max(max,d[k].queued+d[k].processing)});
 svg.setAttribute('viewBox','0 0 '+W+' '+(names.length*row+4));
 names.forEach(function(k,i){var y=i*row+3,q=d[k].queued,p=d[k].processing,w=W-L-60,wq=w*q/max,wp=w*p/max;
  svg.appendChild(el('text',{x:L-6,y:y+13,'text-anchor':'end'},k.length>16?k.slice(0,15)+'…':k));
  svg.appendChild(el('rect',{x:L,y:y,width:wq.toFixed(1),height:row-6,fill:'#2563eb','class':'bar','data-name':k,'data-queued':q}));
  svg.appendChild(el('rect',{x:(L+wq).toFixed(1),y:y,width:wp.toFixed(1),height:row-6,fill:'#d97706'}));
  svg.appendChild(el('text',{x:(L+wq+wp+4).toFixed(1),y:y+13},(complete?'':'≥')+(q+p)))})}
function lat(id,p){var tds=document.querySelectorAll('#'+id+' td');var v=[dur(p.p50),dur(p.p90),dur(p.p99),dur(p.max),p.count];for(var i=0;i<tds.length;i++)tds[i].textContent=v[i]}
function counts(c,t){for(var s in c){var e=document.getElementById('count-'+s);if(e)e.textContent=c[s]}var e=document.getElementById('count-total');if(e)e.textContent=t}
function tick(){fetch('/api/charts?window='+win,{credentials:'same-origin'}).then(function(r){if(!r.ok)throw r.status;return r.json()}).then(function(d){
 rates(d.rates);depth(d.depth,d.depth_complete);lat('lat-run',d.rates.run_time);lat('lat-queue',d.rates.queue_latency);counts(d.counts,d.total);
 document.getElementById('lat-window').textContent=d.rates.window_s>=3600?'last hour':'last 5 minutes';
 n++;sec.dataset.updates=n;document.getElementById('chart-updated').textContent='updated '+new Date().toLocaleTimeString()}).catch(function(){
 document.getElementById('chart-updated').textContent='no answer from the server'})}
sec.querySelectorAll('.win button').forEach(function(b){b.addEventListener('click',function(){win=+b.dataset.w;sec.dataset.window=win;
 sec.querySelectorAll('.win button').forEach(function(o){o.classList.toggle('on',o===b)});tick()})});
tick();setInterval(function(){var l=document.getElementById('live');if(!l||l.checked)tick()},2000);
})();"#;
