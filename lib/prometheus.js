// @ts-check
'use strict'

// `leakwatch.prometheus({ register, client })`: leakwatch's instruments (lib/metrics.js) as
// prom-client gauges and counters whose values are read at scrape time. prom-client is an
// optional peer dependency: the application's own copy is used, so the metrics land in the
// registry it already serves on /metrics.

const { INSTRUMENTS, sharedView } = require('./metrics')
const { withCode, invalidArgument, checkCallOptions } = require('./errors')
const { loadPeer } = require('./peer')

// One registration per registry: a second call returns the first handle.
const registered = new WeakMap()

/**
 * Registers leakwatch's metrics. `register`: a prom-client Registry (default: the client's
 * global registry). `client`: the prom-client module, when it cannot be resolved from here
 * (bundled or linked applications). Returns `{ names, unregister() }`.
 * @param {{ register?: any, client?: any }} options
 * @param {import('./metrics').ViewSource} takeView this facade's view of the isolate
 */
function prometheus(options = {}, takeView) {
  checkCallOptions('prometheus', options, ['register', 'client'])
  const client = options.client ?? loadPeer('prom-client', 'leakwatch.prometheus()')
  if (!client || typeof client.Gauge !== 'function' || typeof client.Counter !== 'function') {
    throw invalidArgument('prometheus({ client })', 'the prom-client module', client)
  }
  const register = options.register ?? client.register
  if (!register || typeof register.registerMetric !== 'function' ||
      typeof register.removeSingleMetric !== 'function') {
    throw invalidArgument('prometheus({ register })', 'a prom-client Registry', register)
  }
  const existing = registered.get(register)
  if (existing) return existing

  const view = sharedView(takeView)
  const taken = INSTRUMENTS.filter((i) => register.getSingleMetric(i.prom))
  if (taken.length > 0) {
    throw withCode(Error, 'ERR_LEAKWATCH_METRIC_EXISTS',
      `leakwatch: the registry already has a metric named ${taken[0].prom}`)
  }
  for (const instrument of INSTRUMENTS) {
    const Type = instrument.kind === 'counter' ? client.Counter : client.Gauge
    new Type({
      name: instrument.prom,
      help: instrument.help,
      labelNames: instrument.labels,
      registers: [register],
      collect() {
        this.reset()
        for (const [labels, value] of instrument.read(view())) {
          if (instrument.kind === 'counter') this.inc(labels, value)
          else this.set(labels, value)
        }
      },
    })
  }
  const handle = {
    names: INSTRUMENTS.map((i) => i.prom),
    unregister() {
      if (registered.get(register) !== handle) return
      for (const instrument of INSTRUMENTS) register.removeSingleMetric(instrument.prom)
      registered.delete(register)
    },
  }
  registered.set(register, handle)
  return handle
}

module.exports = { prometheus }
