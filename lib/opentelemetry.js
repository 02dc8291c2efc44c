// @ts-check
'use strict'

// `leakwatch.openTelemetry({ meterProvider, api })`: leakwatch's instruments (lib/metrics.js)
// as OpenTelemetry observable gauges and counters on a meter named `leakwatch`, from the
// global meter provider by default. One batch callback reads all of them from one view per
// collection. @opentelemetry/api is an optional peer dependency.

const { INSTRUMENTS } = require('./metrics')
const { invalidArgument, checkCallOptions } = require('./errors')
const { loadPeer } = require('./peer')
const { version } = require('../package.json')

const registered = new WeakMap()

/**
 * Reports leakwatch's metrics through OpenTelemetry. `meterProvider`: default the global one
 * (`metrics.getMeterProvider()`), so call this after the SDK has registered its provider.
 * `api`: the @opentelemetry/api module, when it cannot be resolved from here. Returns
 * `{ names, shutdown() }`.
 * @param {{ meterProvider?: any, api?: any }} options
 * @param {import('./metrics').ViewSource} takeView this facade's view of the isolate
 */
function openTelemetry(options = {}, takeView) {
  checkCallOptions('openTelemetry', options, ['meterProvider', 'api'])
  let provider = options.meterProvider
  if (provider === undefined) {
    const api = options.api ?? loadPeer('@opentelemetry/api', 'leakwatch.openTelemetry()')
    if (!api || !api.metrics || typeof api.metrics.getMeterProvider !== 'function') {
      throw invalidArgument('openTelemetry({ api })', 'the @opentelemetry/api module', api)
    }
    provider = api.metrics.getMeterProvider()
    if (provider && provider.constructor && provider.constructor.name === 'NoopMeterProvider') {
      process.emitWarning('leakwatch.openTelemetry(): no global MeterProvider is registered ' +
        'yet, so its metrics go nowhere; call it after the OpenTelemetry SDK has started',
      { code: 'LEAKWATCH_OTEL_NO_PROVIDER' })
    }
  }
  if (!provider || typeof provider.getMeter !== 'function') {
    throw invalidArgument('openTelemetry({ meterProvider })', 'an OpenTelemetry MeterProvider', provider)
  }
  const existing = registered.get(provider)
  if (existing) return existing

  const meter = provider.getMeter('leakwatch', version)
  const observables = INSTRUMENTS.map((instrument) => {
    const create = instrument.kind === 'counter' ? 'createObservableCounter' : 'createObservableGauge'
    return meter[create](instrument.otel, { description: instrument.help, unit: instrument.unit })
  })
  const callback = (/** @type {{ observe(observable: any, value: number, labels: object): void }} */ result) => {
    const view = takeView()
    INSTRUMENTS.forEach((instrument, i) => {
      for (const [labels, value] of instrument.read(view)) result.observe(observables[i], value, labels)
    })
  }
  meter.addBatchObservableCallback(callback, observables)
  const handle = {
    names: INSTRUMENTS.map((i) => i.otel),
    shutdown() {
      if (registered.get(provider) !== handle) return
      meter.removeBatchObservableCallback(callback, observables)
      registered.delete(provider)
    },
  }
  registered.set(provider, handle)
  return handle
}

module.exports = { openTelemetry }
