// @node-rs/jieba 2.0.3 (jieba-rs) throughput peer: cuts CORPUS line by line (cut(line, true): accurate mode with HMM)
// on 1 thread or THREADS worker threads (each with its own Jieba, lines split in equal parts); prints one JSON line.
// usage: NODE_PATH=<dir with node_modules> node nodejieba_speed.js CORPUS [THREADS] [SECONDS]
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads')
const fs = require('fs')
const { Jieba } = require('@node-rs/jieba')
const { dict } = require('@node-rs/jieba/dict')

function cutAll(jieba, lines) {
  let n = 0
  for (const l of lines) n += jieba.cut(l, true).length
  return n
}

if (!isMainThread) {
  const jieba = Jieba.withDict(dict)
  parentPort.on('message', (msg) => {
    if (msg === 'stop') return process.exit(0)
    const t = process.hrtime.bigint()
    const n = cutAll(jieba, workerData.lines)
    parentPort.postMessage({ n, s: Number(process.hrtime.bigint() - t) / 1e9 })
  })
  parentPort.postMessage('ready')
} else {
  const [path, threadsArg, secondsArg] = process.argv.slice(2)
  const threads = parseInt(threadsArg || '1'), seconds = parseFloat(secondsArg || '5')
  const text = fs.readFileSync(path, 'utf8')
  const lines = text.split('\n'); if (lines[lines.length - 1] === '') lines.pop()
  const bytes = lines.reduce((a, l) => a + Buffer.byteLength(l) + 1, 0)
  global.gc && global.gc()
  const rss0 = process.memoryUsage().rss
  let t = process.hrtime.bigint()
  const jieba = Jieba.withDict(dict)
  const load = Number(process.hrtime.bigint() - t) / 1e9
  const rss1 = process.memoryUsage().rss
  const report = (times, tokens) => {
    times.sort((a, b) => a - b)
    const med = times[Math.floor(times.length / 2)]
    console.log(JSON.stringify({ impl: 'node-rs-jieba-2.0.3', mode: 'hmm', threads, bytes, lines: lines.length, tokens,
      passes: times.length, median_s: +med.toFixed(4), mb_per_s: +(bytes / med / 1e6).toFixed(2), load_s: +load.toFixed(3),
      dict_rss_mb: +((rss1 - rss0) / 1e6).toFixed(1) }))
  }
  if (threads === 1) {
    cutAll(jieba, lines)  // warm-up
    const times = []; let tokens = 0; const start = Date.now()
    do { t = process.hrtime.bigint(); tokens = cutAll(jieba, lines); times.push(Number(process.hrtime.bigint() - t) / 1e9) }
    while ((Date.now() - start) / 1000 < seconds || times.length < 3)
    report(times, tokens)
  } else {
    const per = Math.ceil(lines.length / threads)
    const workers = [...Array(threads)].map((_, i) => new Worker(__filename, { workerData: { lines: lines.slice(i * per, (i + 1) * per) } }))
    const once = (w) => new Promise((res) => w.once('message', res))
    ;(async () => {
      await Promise.all(workers.map(once))                      // dictionaries loaded
      const pass = async () => { const p = workers.map(once); workers.forEach((w) => w.postMessage('go')); return Promise.all(p) }
      await pass()                                                // warm-up
      const times = []; let tokens = 0; const start = Date.now()
      do { t = process.hrtime.bigint(); const r = await pass(); tokens = r.reduce((a, x) => a + x.n, 0); times.push(Number(process.hrtime.bigint() - t) / 1e9) }
      while ((Date.now() - start) / 1000 < seconds || times.length < 3)
      report(times, tokens)
      workers.forEach((w) => w.postMessage('stop'))
    })()
  }
}
