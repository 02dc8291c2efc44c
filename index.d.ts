// Types for leakwatch's public API (hand-written; the native binding's own types are
// generated into binding.d.ts and are not part of the API).

import { EventEmitter } from 'node:events'

declare namespace leakwatch {
  /** Options of `leakwatch.start()`. Unknown keys are rejected (`ERR_LEAKWATCH_UNKNOWN_OPTION`). */
  interface StartOptions {
    /**
     * How often the background thread samples RSS from the OS and drains pending GC records,
     * in milliseconds. Integer, 10 – 3 600 000. Default 1000.
     */
    sampleIntervalMs?: number
    /**
     * Minimum time between two `stats` events, in milliseconds; GCs in between are still
     * counted. Integer, 0 – 86 400 000. Default 0 (an event after every full GC, as memwatch).
     */
    statsIntervalMs?: number
    /**
     * Where GC records come from. `'auto'` (default): V8's GC prologue/epilogue callbacks,
     * falling back to perf_hooks (with an `error` event) if the V8 symbols are missing.
     * `'perf_hooks'`: always perf_hooks GC entries and `v8.getHeapStatistics()`.
     */
    gcSource?: 'auto' | 'perf_hooks'
    /**
     * Allocation sites on `leak` events (V8's sampling heap profiler through an in-process
     * inspector session). Default on; `false` opens no session and costs nothing.
     */
    attribution?: AttributionOptions | false
    /** Leak detection. */
    detection?: DetectionOptions
    /**
     * Heap snapshots written automatically (guarded: skipped with `snapshot-skipped` when the
     * estimated memory or disk does not fit). Default `false`: no automatic dumps
     * (`writeSnapshot()` still works).
     */
    snapshot?: SnapshotOptions | false
    /**
     * On a `leak`, find what leaks and who holds it: two or three guarded snapshots as the leak
     * grows, compared in a separate low-priority process, then a `leak-report` event. Uses the
     * `snapshot` block's directory, cooldown and guard (the snapshot defaults, with no other
     * trigger, without one). `true` or `{}`: the defaults. Default `false`.
     */
    diagnose?: DiagnoseOptions | boolean
  }

  interface DiagnoseOptions {
    /** Dumps per diagnosis, 2 or 3. Default 3 (what was allocated between the 1st and 2nd and is alive in the 3rd). */
    snapshots?: 2 | 3
    /** Further growth of the leaking metric awaited before the next dump, bytes. Default null: the leak's `growth`, at least 1 MiB. */
    growthBytes?: number | null
    /** Longest wait for that growth, ms; the next dump is then taken anyway. Default 1 800 000. */
    maxWaitMs?: number
    /** The analysis process is killed after this long, ms. Default 600 000. */
    analysisTimeoutMs?: number
    /** Least time from the end of one diagnosis to the start of the next, ms. Default 3 600 000. */
    cooldownMs?: number
    /** Diagnosis directories kept in the snapshot `dir`; the oldest beyond this are removed. Default 3. */
    maxReports?: number
  }

  /** One growth group of a `leak-report`, with the container and holder read from its path. */
  interface LeakReportGroup {
    /** Class of the objects. */
    name: string
    count: number
    selfSize: number
    /** What freeing them would free, bytes. */
    retainedSize: number
    /** The class of the object that holds them (a Map, an Array, an object used as a dictionary). */
    container: string | null
    /** The name in the code through which the container is held (a property, a closure variable, an event name). */
    reference: string | null
    /** What holds that name (a class, `EventEmitter._events`, or a function's scope). */
    holder: string | null
    /** The path on one line: `… → contextsByRequest → Map → ReportContext ×600, +4.10 MB`. */
    line: string
    /** The full retainer path of the group's largest object. */
    path: RetainerPath
    /** A few snapshot ids of the group's objects (in the last snapshot). */
    ids: number[]
  }

  /** The `leak-report` payload: how a `leak`'s diagnosis ended. */
  interface LeakReport {
    /** The `id` of the `leak` diagnosed. */
    leakId: string
    metric: 'heap' | 'external' | 'rss'
    /** `'complete'`: compared; `'skipped'`: a guard, the cooldown or the growth's end stopped it; `'failed'`: an error. */
    status: 'complete' | 'skipped' | 'failed'
    /** Why it did not complete: 'snapshot-skipped', 'snapshot-failed', 'stopped-growing', 'analysis-memory', 'analysis-failed', 'directory', 'internal'. */
    reason?: string
    /** One sentence: the first group's container and holder, or why the diagnosis ended. */
    message: string
    startedAt: Date
    durationMs: number
    /** The dumps taken: file, when, the metric's level right after, size, and how long each blocked the isolate. */
    snapshots: { path: string, time: Date, level: number | null, bytes: number, durationMs: number }[]
    /** The longest of the dumps' pauses, ms. */
    longestPauseMs: number
    /** What changed on the way (a dump taken after `maxWaitMs`, fewer snapshots compared). */
    notes: string[]
    /** `complete`: which objects the groups hold (see `DiffReport.growthBasis`). */
    growthBasis?: string
    /** `complete`: the classes that grew most from the first to the last snapshot. */
    classes?: { name: string, countDelta: number, sizeDelta: number, addedCount: number, removedCount: number }[]
    /** `complete`: what grew, grouped by class and retainer path, most retained first. */
    groups?: LeakReportGroup[]
    /** `complete`: live allocations sampled between the first two dumps, by stack ([] without attribution). */
    topAllocations?: AllocationSite[]
    /** `complete`: the sampling profiler's state for `topAllocations`. */
    attribution?: { status: 'ok' | 'off' | 'busy' | 'unavailable', message?: string, since?: Date }
    /** The diagnosis's directory and files (`json` and `html` when complete). */
    files: { dir: string | null, snapshots: string[], json?: string, html?: string,
      /** `snapshot-skipped`: what the refused dump left instead (see `SnapshotSkipped.evidence`). */
      evidence?: { profile?: string, statistics?: string } }
    /** `complete`: the analysis process: wall time, its peak RSS (Linux), what it was expected to need and the room then. */
    analysis?: { durationMs: number, peakRssBytes: number | null, needBytes: number, roomBytes: number | null, bound: string | null }
  }

  interface SnapshotOptions {
    /**
     * Directory of automatic dumps and of `writeSnapshot()` without a path. Default: Node's
     * diagnostic directory (`--diagnostic-dir`, else the working directory) at `start()`.
     */
    dir?: string | null
    /** Dump when a `leak` is reported. Default true. */
    onLeak?: boolean
    /** Dump when the heap after a full GC uses this % of the heap limit (1 – 100). Default null (off). */
    heapUsedPercent?: number | null
    /** Dump when RSS reaches this many bytes. Default null (off). */
    rssBytes?: number | null
    /** One dump just before the isolate runs out of heap (fires once). Default false. */
    nearHeapLimit?: boolean
    /**
     * Dump the main thread on this signal, e.g. `'SIGUSR2'` (ignored in workers). Signals used for
     * process control (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 …) are refused. Default null (off).
     */
    signal?: NodeJS.Signals | null
    /** Least time between two automatic dumps (leak, heapUsedPercent, rssBytes), ms. Default 600 000. */
    cooldownMs?: number
    /** leakwatch dumps kept in `dir`; the oldest beyond this are removed. Default 5. */
    maxFiles?: number
    /** Free disk space that must remain after a dump, bytes. Default 1 GiB. */
    minFreeDiskBytes?: number
    /** Total memory (RSS) this process may use while dumping, bytes. Default null: the cgroup limit and available memory. */
    memoryLimitBytes?: number | null
    /**
     * Longest a dump may block the isolate, ms (integer 100 – 3 600 000): a dump expected to
     * take longer is skipped (`snapshot-skipped` with reason `'pause'`), one still running at
     * 1.25 × this is abandoned (no file left). `null`: no budget. Default 30 000.
     */
    maxPauseMs?: number | null
  }

  /** What started a dump. */
  type SnapshotTrigger = 'api' | 'leak' | 'heap-used' | 'rss' | 'signal' | 'near-heap-limit'

  /** Options of `analyze()`. Row limits take a non-negative integer or `Infinity`. */
  interface AnalyzeOptions {
    /** Aborts the analysis: the promise rejects with an `AbortError` (`ERR_LEAKWATCH_ABORTED`). */
    signal?: AbortSignal
    /** Called every 100 ms while it runs and once at the end. */
    onProgress?: (progress: AnalysisProgress) => void
    /** Class rows, largest retained size first. Default 50. */
    classes?: number
    /** How many of the top classes get the retainer path of their largest instance. Default 10. */
    paths?: number
    /** Largest objects listed. Default 10. */
    largest?: number
  }

  /** Options of `diff()`. */
  interface DiffOptions {
    signal?: AbortSignal
    onProgress?: (progress: AnalysisProgress) => void
    /** Class rows, largest growth first. Default 50. */
    classes?: number
    /** Growth groups (objects held the same way). Default 10. */
    groups?: number
  }

  interface AnalysisProgress {
    phase: 'reading' | 'graph' | 'dominators' | 'classes' | 'paths' | 'diff' | 'done'
    /** Snapshot files being read. */
    files: number
    /** Bytes read so far, all files together. */
    bytesRead: number
    bytesTotal: number
  }

  interface SnapshotSummary {
    file: string
    fileBytes: number
    nodeCount: number
    edgeCount: number
    /**
     * DevTools' total size: the root's retained size plus V8's extra native bytes, bytes (for
     * the first snapshot of a two-snapshot diff, which gets no dominator tree: all self sizes).
     */
    totalSize: number
    /** Sum of all self sizes (after DevTools' attribution of internal arrays to their owners), bytes. */
    selfSize: number
    classCount: number
    /** Nodes unreachable from the root through retaining edges (null for the first snapshot of a two-snapshot diff). */
    unreachableNodes: number | null
  }

  /** One step of a retainer path, from the roots towards the object. */
  interface RetainerStep {
    /** The holding object: its class, function name, or V8's name for internal nodes. */
    holder: string
    holderId: number
    edgeType: 'context' | 'element' | 'property' | 'internal' | 'hidden' | 'shortcut' | 'weak' | string
    /** A property or variable name, or an index. */
    edge: string
  }

  /** A shortest path from the GC roots (the page's own objects first, as DevTools does). */
  interface RetainerPath {
    steps: RetainerStep[]
    /** Class of the retained object. */
    target: string
    targetId: number
    /** Longer than 48 steps: the steps nearest the object are kept. */
    truncated: boolean
    /** Only weakly reachable or unreachable: no path. */
    unreachable: boolean
  }

  /** A class as DevTools' Summary view shows it. Sizes in bytes. */
  interface ClassSummary {
    name: string
    /** DevTools' class key: ",Name", or "script,line,column,Name" for classes split by allocation site. */
    key: string
    count: number
    selfSize: number
    retainedSize: number
    distance: number
    /** The retainer path of the largest instance (top `paths` classes only). */
    path?: RetainerPath
  }

  interface ObjectSummary {
    name: string
    id: number
    type: string
    selfSize: number
    retainedSize: number
    path: RetainerPath
  }

  /** What `analyze()` resolves with. */
  interface AnalyzeReport {
    summary: SnapshotSummary
    classes: ClassSummary[]
    largest: ObjectSummary[]
  }

  /** Per-class change from the first snapshot to the last, as DevTools' Comparison view. */
  interface ClassDiff {
    name: string
    key: string
    addedCount: number
    removedCount: number
    countDelta: number
    addedSize: number
    removedSize: number
    sizeDelta: number
  }

  /** Objects held the same way (same class, same path shape). */
  interface GrowthGroup {
    name: string
    count: number
    selfSize: number
    /** What freeing these objects would free, bytes. */
    retainedSize: number
    path: RetainerPath
    /** A few of their snapshot ids, to find them in DevTools. */
    ids: number[]
  }

  /** An object whose retained size grew at every snapshot of a diff (three snapshots or more). */
  interface GrowingObject {
    name: string
    /** Snapshot id, the same in every snapshot of the process. */
    id: number
    /** V8 node type ("object", "closure", …). */
    type: string
    /** Self size in the last snapshot, bytes. */
    selfSize: number
    /** Retained size in each snapshot, in order, bytes. */
    retainedSize: number[]
    /** Retained size in the last snapshot minus in the first, bytes. */
    growth: number
    /** Retainer path in the last snapshot. */
    path: RetainerPath
    /** The path as one line of text. */
    pathText: string
  }

  /** A class whose instance count grew at every snapshot of a diff (three snapshots or more). */
  interface GrowingClass {
    name: string
    key: string
    /** Live instances in each snapshot. */
    count: number[]
    /** Their self size in each snapshot, bytes. */
    selfSize: number[]
    /** The class's retained size in each snapshot, bytes. */
    retainedSize: number[]
    /** Retained size in the last snapshot minus in the first, bytes (may be negative). */
    growth: number
    /** Path in the last snapshot of the instance new since the first that retains the most. */
    path: RetainerPath
    /** The path as one line of text. */
    pathText: string
  }

  /** What `diff()` resolves with. */
  interface DiffReport {
    /** One summary per snapshot, in the order given. */
    snapshots: SnapshotSummary[]
    /**
     * Which objects `growth` holds. Two snapshots: objects new in the second; three: allocated
     * between the first and second and alive in the third; four or more: … alive in the last.
     */
    growthBasis: 'new-in-second' | 'new-in-second-alive-in-third' | 'new-in-second-alive-in-last'
    classes: ClassDiff[]
    totals: { addedCount: number; removedCount: number; addedSize: number; removedSize: number }
    /** The top growing classes across all snapshots (for charts). */
    series: Array<{ name: string; key: string; count: number[]; selfSize: number[] }>
    growth: GrowthGroup[]
    /** Three snapshots or more: objects whose retained size grew at every snapshot, largest growth first (empty with two). */
    growing: GrowingObject[]
    /** Three snapshots or more: classes whose count grew at every snapshot, largest retained growth first (empty with two). */
    growingClasses: GrowingClass[]
  }

  /** Options of `redact()`. */
  interface RedactOptions {
    signal?: AbortSignal
    onProgress?: (progress: AnalysisProgress) => void
  }

  /** What `redact()` resolves with. */
  interface RedactReport {
    /** The redacted copy. */
    file: string
    /** Its size, bytes. */
    fileBytes: number
    /** Entries in the snapshot's strings table. */
    strings: number
    /** Entries replaced by a placeholder (string values and entries nothing names). */
    redacted: number
  }

  /** memwatch's HeapDiff result. */
  interface HeapDiffResult {
    before: HeapDiffSide
    after: HeapDiffSide
    change: {
      size_bytes: number
      size: string
      freed_nodes: number
      allocated_nodes: number
      details: Array<{ what: string; size_bytes: number; size: string; '+': number; '-': number }>
    }
  }

  interface HeapDiffSide {
    nodes: number
    time: Date
    size_bytes: number
    /** Human-readable, e.g. "1.78 mb". */
    size: string
  }

  /**
   * A snapshot now; `end()` takes another and compares (synchronous, like memwatch's). Both
   * go through leakwatch's guarded writer: the constructor and `end()` throw
   * `ERR_LEAKWATCH_SNAPSHOT_SKIPPED` when a dump does not fit the memory, disk or pause budget.
   */
  interface HeapDiff {
    /**
     * @throws Error `ERR_LEAKWATCH_HEAPDIFF_ENDED` when called twice;
     *   `ERR_LEAKWATCH_SNAPSHOT_SKIPPED` or a write error when the second dump cannot be taken.
     */
    end(): HeapDiffResult
  }

  /** The `snapshot` payload and what `writeSnapshot()` resolves with. */
  interface SnapshotInfo {
    /** The complete file (written under a temporary name, renamed when complete; mode 0600). */
    path: string
    reason: SnapshotTrigger
    bytes: number
    /** Time the isolate was blocked, ms. */
    durationMs: number
    /** Highest RSS sampled during the dump, bytes. */
    peakRss: number
    /** The guard's estimate before the dump (pause in ms). */
    estimate: { memoryBytes: number; fileBytes: number; pauseMs: number }
  }

  /** The `snapshot-skipped` payload (and the fields of an `ERR_LEAKWATCH_SNAPSHOT_SKIPPED` rejection). */
  interface SnapshotSkipped {
    /**
     * `'memory'` / `'disk'`: the estimate does not fit; `'pause'`: the dump would block the
     * isolate longer than `maxPauseMs` (or ran past it); `'cooldown'`: too soon after the last
     * automatic dump.
     */
    reason: 'memory' | 'disk' | 'pause' | 'cooldown'
    trigger: SnapshotTrigger
    needBytes?: number
    haveBytes?: number
    /** What bounded `haveBytes`: `'memoryLimitBytes'`, `'cgroup'`, `'constrainedMemory'`, `'system'`, `'disk'` or `'ceiling'` (aborted mid-dump). */
    bound?: 'memoryLimitBytes' | 'cgroup' | 'constrainedMemory' | 'system' | 'disk' | 'ceiling'
    /** pause: the pause the guard expected and the budget, ms. */
    expectedMs?: number
    budgetMs?: number
    /** pause, aborted: how long the dump ran before it was given up, ms. */
    elapsedMs?: number
    /** The dump started and was given up — at the RSS ceiling, or past the pause budget (no file left). */
    aborted?: boolean
    /** cooldown: ms until an automatic dump is allowed again. */
    retryInMs?: number
    /**
     * Not cooldown: what was written instead of the snapshot, beside where it would have gone —
     * the sampling allocation profile as gzipped pprof (when attribution has one) and V8's heap
     * statistics as JSON. Absent when neither could be written (an `error` event says why).
     */
    evidence?: { profile?: string; statistics?: string }
    message: string
  }

  /** What `writeHeapProfile()` resolves with. */
  interface HeapProfileInfo {
    /** The gzipped `profile.proto` (written under a temporary name, renamed when complete; mode 0600). */
    path: string
    /** File size, bytes. */
    bytes: number
    /** Live sampled memory in the profile (its `inuse_space` total), bytes. */
    liveBytes: number
    /** Distinct allocation stacks in the profile. */
    stacks: number
    /** When the sampling profiler started: the profile covers allocations since then. */
    since: Date
  }

  /** What glibc's malloc holds (`mallinfo2()`), on an `rss` leak. Bytes. */
  interface MallocFigures {
    /** Allocated and not freed: in the arenas (`uordblks`) plus mmapped blocks (`hblkhd`). */
    inUse: number
    /** Free in the arenas: freed by the program, kept by malloc (`fordblks`). */
    free: number
    /** The mmapped part of `inUse`. */
    mmapped: number
    /** Obtained from the OS by the arenas (`arena`). */
    arena: number
    /** Change of `inUse` since `since`. */
    inUseChange: number
    /** Change of `free` since `since`. */
    freeChange: number
    /** The reading compared with: `start()`, or the previous `rss` leak. */
    since: Date
    /**
     * `'native-in-use'`: in use grew (a native leak); `'fragmentation'`: free grew more (freed
     * memory malloc keeps); `'outside-malloc'`: neither covers a quarter of the growth.
     */
    verdict: 'native-in-use' | 'fragmentation' | 'outside-malloc'
  }

  interface AttributionOptions {
    /** Mean bytes allocated between two samples. Integer, 1024 – 1 GiB. Default 524 288 (512 KiB). */
    samplingIntervalBytes?: number
    /** Allocation stacks listed per `leak`. Integer 1 – 100. Default 5. */
    top?: number
    /**
     * When the sampling heap profiler runs. `'growth'` (default): only while a metric shows
     * early growth (half a leak's growth thresholds, warm-up or not) or a reported leak goes
     * on, and for 30 s after (longer when full GCs are further apart), so a steady process
     * pays nothing. `'always'`: from `start()` to `stop()`.
     */
    when?: 'growth' | 'always'
  }

  /**
   * Confirmation GCs (trend mode, V8 hooks): when heap, external memory or RSS has grown since
   * the last full GC by a share of what a verdict needs, leakwatch asks V8 for one
   * incremental full GC, so that leaks are judged on true post-GC baselines even when V8's own
   * full GCs are rare. `false`: wait for V8's full GCs only.
   */
  interface ConfirmOptions {
    /** Largest share of wall time spent in requested full GCs, 0.0001 – 0.5. Default 0.01 (1 %). */
    maxPauseRatio?: number
    /** Least time between a full GC and a request, ms. Integer, 100 – 86 400 000. Default 1000. */
    minIntervalMs?: number
  }

  /**
   * trend mode: how much sustained growth a first `leak` needs, by the time until the limit at
   * the current rate (detection.md, "Evidence scaled to urgency"). `false`: the other rules alone.
   */
  interface UrgencyOptions {
    /** Time to the limit at or under which no extra evidence is asked, ms. Default 600 000 (10 min). */
    urgentMs?: number
    /** Time to the limit at or over which the full `sustainMs` is asked, ms. Default 3 600 000 (1 h). */
    relaxedMs?: number
    /** The longest span of observed growth a first `leak` needs, ms, counted from the start of the rise. Default 75 000. */
    sustainMs?: number
    /**
     * The shortest span of observed growth any first `leak` needs, however near the limit, ms
     * (capped at 90 % of `windowMs`). Default 0. Set it above a service's own warm-up when
     * that warm-up is urgent growth in its container.
     */
    minSpanMs?: number
  }

  /** Thresholds of one metric; `false` turns the metric off. */
  interface MetricThresholds {
    /** Least growth over the window for a leak, bytes. Default 8 MiB (heap, external), 32 MiB (rss). */
    minGrowthBytes?: number
    /** Least growth relative to the level at the window start. Default 0.1 (heap, external), 0.2 (rss). */
    minGrowthRatio?: number
  }

  interface DetectionOptions {
    /** `'trend'` (default), `'consecutive'` (memwatch's rule; heap and external only) or `'off'`. */
    mode?: 'trend' | 'consecutive' | 'off'
    /** consecutive mode: growing full-GC baselines that make a leak. Integer 2 – 1000. Default 5. */
    consecutiveGcs?: number
    /** trend mode: sliding window, ms. Default 120 000. */
    windowMs?: number
    /** trend mode: no verdict this long after start, ms (caches warming up). Default 10 000. */
    warmupMs?: number
    /** trend mode: fewest points in the window for a verdict. Default 5. */
    minPoints?: number
    /** trend mode: least share of increasing pairs (Mann–Kendall), 0 – 1. Default 0.6. */
    minConsistency?: number
    /** trend mode: recent-third slope / window slope below this is levelling off, not a leak. Default 0.5. */
    plateauRatio?: number
    /**
     * After a leak, the level must rise this fraction more before the next `leak` (also when
     * growth resumes within `windowMs` of its `leak-stopped`). Default 0.25.
     */
    rearmRatio?: number
    /** trend mode: confirmation GCs between V8's own full GCs. */
    confirm?: ConfirmOptions | false
    /** trend mode: evidence scaled to the time until the limit. */
    urgency?: UrgencyOptions | false
    /**
     * The process's memory budget for time-to-limit, bytes; default null: `snapshot.memoryLimitBytes`
     * when set, else the cgroup limit and the system's available memory.
     */
    memoryLimitBytes?: number | null
    /** Heap used after full GCs. */
    heap?: MetricThresholds | false
    /** External memory (Buffers, ArrayBuffers) after full GCs. */
    external?: MetricThresholds | false
    /**
     * Resident memory outside the V8 heap (RSS minus the heap's resident pages), sampled every
     * `sampleIntervalMs` (trend mode only).
     */
    rss?: MetricThresholds | false
  }

  /** What bounds a metric's growth: the level at which it is reached, and what sets it. */
  interface GrowthLimit {
    /**
     * `'heap-limit'`: V8's heap size limit; `'memoryLimitBytes'`: the configured budget;
     * `'cgroup'`: the container's memory limit; `'system'`: the system's available memory.
     */
    kind: 'heap-limit' | 'memoryLimitBytes' | 'cgroup' | 'system'
    /** The metric's level at which the limit is reached, bytes. */
    bytes: number
  }

  /** The `leak` and `leak-stopped` payloads. Sizes in bytes. */
  interface LeakInfo {
    /**
     * `leak-<pid>-<threadId>-<n>`, unique in the process; a `leak-stopped` carries the id of
     * its metric's last `leak` (null if there was none), a `leak-report` the id it diagnosed.
     */
    id: string | null
    /**
     * `leak` only, with `diagnose` on: `'started'` (a `leak-report` with this id follows),
     * `'running'` (another leak's diagnosis is under way) or `'cooldown'`.
     */
    diagnosis?: 'started' | 'running' | 'cooldown'
    /** Growth over the window, bytes (fitted line). */
    growth: number
    /**
     * e.g. "heap grew 48.2 MB in 21 s over 6 full GCs (8.3 GB/h); at this rate the heap limit
     * is reached in 14.0 min".
     */
    reason: string
    start: Date
    end: Date
    metric: 'heap' | 'external' | 'rss'
    bytesPerHour: number
    /** Full GCs in the window. */
    gcCount: number
    windowMs: number
    /** Level at the window start. */
    baseline: number
    /** Latest level. */
    current: number
    /** Milliseconds until `limit` at `bytesPerHour`; null when not growing or no limit is known. */
    timeToLimitMs: number | null
    /** The limit `timeToLimitMs` refers to; null when none is known. */
    limit: GrowthLimit | null
    /**
     * `leak` only, when attribution is on: the allocation stacks of sampled memory allocated
     * since `start` and still alive, largest first.
     */
    topAllocations?: AllocationSite[]
    /** `leak` only: whether allocation sites could be collected, and why not. */
    attribution?: {
      /** `'busy'`: another inspector client stopped or owns the sampling profiler. */
      status: 'ok' | 'off' | 'busy' | 'unavailable'
      message?: string
      /**
       * With `status: 'ok'`: when the sampling profiler started. The sites cover the window
       * from the later of `since` and `start`.
       */
      since?: Date
    }
    /**
     * `leak` only, when attribution read a profile and a `snapshot` block or `diagnose` is set:
     * the same samples as `topAllocations` as a gzipped pprof file in `snapshot.dir`.
     */
    profile?: string
    /** `leak` of metric `'rss'` only, on Linux with glibc 2.33 or later: what malloc holds. */
    malloc?: MallocFigures
  }

  /** One allocation stack of a `leak`. */
  interface AllocationSite {
    /** The allocating function ('' for an anonymous one). */
    functionName: string
    url: string
    /** 1-based. */
    line: number
    /** 1-based. */
    column: number
    /** Estimated live bytes allocated there during the window. */
    bytes: number
    /** Innermost first: "fn (url:line:column)". */
    stack: string[]
  }

  /** The GC kinds, named independently of the running V8's bit values. */
  type GcType =
    | 'scavenge'
    | 'minorMarkCompact'
    | 'markSweepCompact'
    | 'incrementalMarking'
    | 'processWeakCallbacks'

  /** Count and summed pause of one GC type since `start()`. */
  interface GcTypeTotals {
    count: number
    /** Sum of pauses, milliseconds. */
    pauseMs: number
  }

  /** Heap figures in bytes. */
  interface HeapFigures {
    /** Used V8 heap after the GC. */
    used: number
    /** Heap reserved by V8. */
    total: number
    /** Heap size limit (out-of-memory threshold). */
    limit: number
    /** Memory held outside the V8 heap by JS objects; includes `arrayBuffers`. */
    external: number
    /**
     * ArrayBuffers and Buffers (read when the event is delivered). While the process cannot
     * read it (no file descriptor left), the last reading; null before the first.
     */
    arrayBuffers: number | null
    /** Memory V8 itself allocated with malloc. */
    mallocedMemory: number
  }

  /** The `stats` payload (also returned by `watcher.stats()`). All sizes in bytes. */
  interface Stats {
    /** Full (mark-sweep-compact) GCs since start. */
    num_full_gc: number
    /** Every other GC since start (scavenges, minor mark-compacts, incremental steps...). */
    num_inc_gc: number
    /** Full GCs whose baseline was recorded (equals `num_full_gc`). */
    heap_compactions: number
    /** Percent by which the recent post-GC base exceeds the long-term one; negative when shrinking. */
    usage_trend: number
    /** Recent (10 full GCs) average of the heap used after full GCs. */
    estimated_base: number
    /** Heap used after the latest full GC. */
    current_base: number
    /** Smallest post-full-GC heap from the 3rd full GC on; 0 before. */
    min: number
    /** Largest post-full-GC heap from the 3rd full GC on; 0 before. */
    max: number
    /** The GC these figures follow; null before the first GC. */
    gcType: GcType | null
    /** The GC was requested (`leakwatch.gc()`, `global.gc()`), not scheduled by V8. */
    forced: boolean
    /** Pause of that GC, prologue to epilogue, milliseconds. */
    pauseMs: number
    heap: HeapFigures
    /**
     * Resident set size of the process (sampled natively on Linux, else read with
     * `process.memoryUsage()`); null only where neither could read it.
     */
    rss: number | null
    byType: Record<GcType, GcTypeTotals>
    /** `'v8'` (GC callbacks) or `'perf_hooks'` (fallback). */
    source: 'v8' | 'perf_hooks'
    /** GC records and events lost to full queues (leakwatch never blocks to deliver). */
    dropped: { records: number; events: number }
    /** Time spent inside leakwatch's GC callbacks (p50/p99: histogram bounds within 25 %). */
    callbackCost: { calls: number; totalNs: number; p50Ns: number; p99Ns: number }
    /** Per metric: a leak was reported and its growth has not stopped. */
    leak: { heap: boolean; external: boolean; rss: boolean }
    /**
     * Per metric: the growth rate and levels the trend detector sees over its window right now
     * (rss: memory outside the V8 heap). Null when the metric is off, in consecutive mode, or
     * before warm-up and `minPoints`.
     */
    trend: { heap: MetricTrend | null; external: MetricTrend | null; rss: MetricTrend | null }
    /** Full GCs leakwatch requested to confirm growth (see `detection.confirm`). */
    requestedGcs: number
    /**
     * The sampling heap profiler behind `leak` allocation sites: `'sampling'` (running),
     * `'idle'` (waiting for early growth, `attribution.when: 'growth'`), `'off'`
     * (`attribution: false`, detection off, or after `stop()`), `'busy'` (another inspector
     * client stopped or owns it) or `'unavailable'`.
     */
    attribution: 'sampling' | 'idle' | 'off' | 'busy' | 'unavailable'
    time: Date
  }

  /** A metric's trend over the detection window. */
  interface MetricTrend {
    /** Theil–Sen slope of the window; negative when falling. */
    bytesPerHour: number
    /** Fitted level at the window start, bytes. */
    baseline: number
    /** Latest level, bytes. */
    current: number
    /** Milliseconds until `limit` at this rate; null when not growing or no limit is known. */
    timeToLimitMs: number | null
    /** The limit `timeToLimitMs` refers to; null when none is known. */
    limit: GrowthLimit | null
  }

  /** A runtime fault reported on the `error` event. */
  interface LeakwatchError extends Error {
    /** Stable code, e.g. `ERR_LEAKWATCH_V8_SYMBOL_MISSING`, `ERR_LEAKWATCH_SNAPSHOT_WRITE`. */
    code: string
    /** Snapshot write failures: the OS error (`'ENOSPC'`, `'EACCES'` …) and system call. */
    errno?: string
    syscall?: string
    /** Snapshot failures: what started the dump. */
    trigger?: SnapshotTrigger
  }

  interface WatcherEvents {
    stats: [stats: Stats]
    leak: [info: LeakInfo]
    'leak-stopped': [info: LeakInfo]
    'leak-report': [report: LeakReport]
    snapshot: [info: SnapshotInfo]
    'snapshot-skipped': [skip: SnapshotSkipped]
    error: [error: LeakwatchError]
  }

  /** Monitors one isolate (the main thread or a worker). */
  interface Watcher extends EventEmitter<WatcherEvents> {
    /** The resolved options this watcher runs with. */
    readonly options: Readonly<Required<Omit<StartOptions, 'detection' | 'snapshot'>>> & {
      readonly detection: Readonly<Required<DetectionOptions>>
      readonly snapshot: Readonly<Required<SnapshotOptions>> | null
    }
    /** `'v8'` or `'perf_hooks'`. */
    readonly source: 'v8' | 'perf_hooks'
    /** True until `stop()`. */
    readonly running: boolean
    /** The latest stats; after `stop()`, the final ones. */
    stats(): Stats
    /** Removes the GC callbacks and joins the background thread. Idempotent. */
    stop(): this
  }

  /** Options of `leakwatch.prometheus()`. */
  interface PrometheusOptions {
    /** The prom-client Registry to register in. Default: prom-client's global registry. */
    register?: {
      registerMetric(metric: any): void
      removeSingleMetric(name: string): void
      getSingleMetric(name: string): unknown
    }
    /** The prom-client module, when it cannot be resolved from leakwatch (linked or bundled apps). */
    client?: object
  }

  /** What `leakwatch.prometheus()` registered. */
  interface PrometheusHandle {
    /** The metric names, e.g. `leakwatch_heap_used_bytes`. */
    readonly names: string[]
    /** Removes leakwatch's metrics from the registry. */
    unregister(): void
  }

  /** Options of `leakwatch.openTelemetry()`. */
  interface OpenTelemetryOptions {
    /** Default: the global meter provider of @opentelemetry/api (register the SDK first). */
    meterProvider?: { getMeter(name: string, version?: string, options?: object): any }
    /** The @opentelemetry/api module, when it cannot be resolved from leakwatch. */
    api?: object
  }

  /** What `leakwatch.openTelemetry()` created. */
  interface OpenTelemetryHandle {
    /** The instrument names, e.g. `leakwatch.heap.used`. */
    readonly names: string[]
    /** Stops reporting (removes the batch callback). */
    shutdown(): void
  }

  interface Leakwatch extends EventEmitter<WatcherEvents> {
    /**
     * Starts monitoring this isolate and returns its Watcher. Calling it again while a watcher
     * runs returns that watcher (the new options are validated, not applied).
     * @throws TypeError | RangeError with `code` `ERR_LEAKWATCH_*` on bad options.
     */
    start(options?: StartOptions): Watcher
    /** Stops this isolate's watcher, if one runs. */
    stop(): void
    /** This isolate's running watcher, or null. */
    current(): Watcher | null
    /** A full, memory-reducing garbage collection of this isolate (memwatch's `gc()`). */
    gc(): void
    /**
     * A guarded heap snapshot of this isolate, which it blocks while writing. `path`: a file, or
     * a directory for a generated name; default: the running watcher's `snapshot.dir`, else
     * `--diagnostic-dir` or the working directory. Rejects with `ERR_LEAKWATCH_SNAPSHOT_SKIPPED`
     * (plus the `SnapshotSkipped` fields) when it does not fit, `ERR_LEAKWATCH_SNAPSHOT_WRITE`
     * when the file cannot be written.
     */
    writeSnapshot(path?: string): Promise<SnapshotInfo>
    /**
     * The live allocations sampled by the running watcher's sampling heap profiler
     * (`attribution`), as a gzipped pprof `profile.proto` (`inuse_objects`, `inuse_space`).
     * `path`: a file, or a directory for a generated name; default as for `writeSnapshot()`.
     * Rejects with `ERR_LEAKWATCH_PROFILE_UNAVAILABLE` (and `reason`: `'off'` — no watcher or
     * attribution off; `'idle'` — the profiler is not running now, `attribution.when: 'growth'`
     * and no early growth; `'busy'`; `'unavailable'`) or `ERR_LEAKWATCH_EVIDENCE_WRITE`.
     */
    writeHeapProfile(path?: string): Promise<HeapProfileInfo>
    /**
     * Registers leakwatch's gauges and counters (`leakwatch_…`) in a prom-client registry; values
     * are read at scrape time from this isolate. Needs the optional peer `prom-client`
     * (`ERR_LEAKWATCH_PEER_MISSING` otherwise). Calling it again with the same registry returns
     * the same handle.
     */
    prometheus(options?: PrometheusOptions): PrometheusHandle
    /**
     * Reports the same instruments (`leakwatch.…`) through OpenTelemetry's global meter provider
     * (or `meterProvider`). Needs the optional peer `@opentelemetry/api`.
     */
    openTelemetry(options?: OpenTelemetryOptions): OpenTelemetryHandle
    /**
     * Analyses a .heapsnapshot on the libuv threadpool: classes with DevTools' counts, self and
     * retained sizes, the largest objects, retainer paths. Rejects with
     * `ERR_LEAKWATCH_SNAPSHOT_READ | _EMPTY | _TRUNCATED | _SYNTAX | _META | _RANGE | _TOO_LARGE`
     * (with `file`, `offset`, `errno` where known) or `ERR_LEAKWATCH_ABORTED`.
     */
    analyze(file: string | URL | Buffer, options?: AnalyzeOptions): Promise<AnalyzeReport>
    /**
     * Compares snapshots of one process, in time order: two (growth per class, new objects by
     * retainer path) or three to 64 (also what was allocated between the first two and is still
     * alive in the last, and the objects and classes that grew at every snapshot).
     */
    diff(before: string | URL | Buffer, after: string | URL | Buffer, options?: DiffOptions): Promise<DiffReport>
    diff(first: string | URL | Buffer, second: string | URL | Buffer, third: string | URL | Buffer, ...more: Array<string | URL | Buffer>): Promise<DiffReport>
    diff(first: string | URL | Buffer, second: string | URL | Buffer, third: string | URL | Buffer, ...moreThenOptions: [...Array<string | URL | Buffer>, DiffOptions]): Promise<DiffReport>
    diff(files: Array<string | URL | Buffer>, options?: DiffOptions): Promise<DiffReport>
    /**
     * Writes a copy of a snapshot with every string value replaced by a placeholder of its
     * length class; class, property, variable and function names, code locations, sizes and the
     * graph are kept (a text also used as a name is kept). `output` appears only when complete.
     * Rejects with the `analyze()` codes for the input and `ERR_LEAKWATCH_SNAPSHOT_WRITE` (with
     * `errno`) for the output.
     */
    redact(input: string | URL | Buffer, output: string | URL | Buffer, options?: RedactOptions): Promise<RedactReport>
    /** memwatch's HeapDiff. */
    readonly HeapDiff: new () => HeapDiff
    /** The default options. */
    readonly defaults: Watcher['options']
    /** The Watcher class, for `instanceof` checks; watchers come from `start()`. */
    readonly Watcher: abstract new (...args: never[]) => Watcher
  }
}

declare const leakwatch: leakwatch.Leakwatch
export = leakwatch
