// Types of the ES module entry (index.mjs): the CommonJS declarations, re-exported.
import leakwatch = require('./index.js')

export default leakwatch

export declare const start: leakwatch.Leakwatch['start']
export declare const stop: leakwatch.Leakwatch['stop']
export declare const current: leakwatch.Leakwatch['current']
export declare const gc: leakwatch.Leakwatch['gc']
export declare const writeSnapshot: leakwatch.Leakwatch['writeSnapshot']
export declare const writeHeapProfile: leakwatch.Leakwatch['writeHeapProfile']
export declare const prometheus: leakwatch.Leakwatch['prometheus']
export declare const openTelemetry: leakwatch.Leakwatch['openTelemetry']
export declare const analyze: leakwatch.Leakwatch['analyze']
export declare const diff: leakwatch.Leakwatch['diff']
export declare const redact: leakwatch.Leakwatch['redact']
export declare const HeapDiff: leakwatch.Leakwatch['HeapDiff']
export declare const defaults: leakwatch.Leakwatch['defaults']
export declare const Watcher: leakwatch.Leakwatch['Watcher']

export type StartOptions = leakwatch.StartOptions
export type DetectionOptions = leakwatch.DetectionOptions
export type SnapshotOptions = leakwatch.SnapshotOptions
export type AttributionOptions = leakwatch.AttributionOptions
export type DiagnoseOptions = leakwatch.DiagnoseOptions
export type LeakReport = leakwatch.LeakReport
export type LeakReportGroup = leakwatch.LeakReportGroup
export type LeakInfo = leakwatch.LeakInfo
export type GrowthLimit = leakwatch.GrowthLimit
export type UrgencyOptions = leakwatch.UrgencyOptions
export type Stats = leakwatch.Stats
export type SnapshotInfo = leakwatch.SnapshotInfo
export type SnapshotSkipped = leakwatch.SnapshotSkipped
export type HeapProfileInfo = leakwatch.HeapProfileInfo
export type MallocFigures = leakwatch.MallocFigures
export type LeakwatchError = leakwatch.LeakwatchError
export type PrometheusOptions = leakwatch.PrometheusOptions
export type OpenTelemetryOptions = leakwatch.OpenTelemetryOptions
export type Watcher = leakwatch.Watcher
export type AnalyzeOptions = leakwatch.AnalyzeOptions
export type DiffOptions = leakwatch.DiffOptions
export type AnalyzeReport = leakwatch.AnalyzeReport
export type DiffReport = leakwatch.DiffReport
export type GrowingObject = leakwatch.GrowingObject
export type GrowingClass = leakwatch.GrowingClass
export type RedactOptions = leakwatch.RedactOptions
export type RedactReport = leakwatch.RedactReport
export type RetainerPath = leakwatch.RetainerPath
export type HeapDiffResult = leakwatch.HeapDiffResult
