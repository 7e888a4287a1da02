// js-ipfs 0.66 and its libp2p dependencies call Promise.withResolvers (ES2024), which Node 20 lacks; this file is
// loaded before them with NODE_OPTIONS=--require <this file>. It leaves a native implementation alone.
'use strict'
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers () {
      let resolve
      let reject
      const promise = new this((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}
