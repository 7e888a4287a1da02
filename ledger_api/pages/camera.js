// The phone's back camera for the scan page: opening it (with why it failed, when it does), reading QR codes
// from its frames, and telling a bottle's GS1 Digital Link from any other QR content. Frames are decoded by
// the browser's BarcodeDetector where it has one (Chrome on Android, Safari 17+), else by the vendored jsQR
// on a canvas, which is loaded only when a scan starts: it is a quarter of a megabyte.

const DIGITAL_LINK = /^\/01\/(\d{14})\/10\/([^/]+)\/21\/([^/]+)\/?$/;
const FRAME_EVERY_MS = 120;
const MAX_DECODE_WIDTH = 640; // larger frames only slow jsQR down; a bottle's code fills much of the view

/** Opens the back camera: `{stream}`, or `{failure: "denied" | "unavailable"}` when it cannot. */
export async function openCamera() {
  if (!navigator.mediaDevices?.getUserMedia) return { failure: "unavailable" };
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    return { stream };
  } catch (error) {
    const denied = error?.name === "NotAllowedError" || error?.name === "SecurityError";
    return { failure: denied ? "denied" : "unavailable" };
  }
}

export function closeCamera(video) {
  const stream = video?.srcObject;
  if (stream) for (const track of stream.getTracks()) track.stop();
  if (video) video.srcObject = null;
}

/**
 * What a QR code's text means here: `{path, foreignHost}` for a bottle's Digital Link (the path to open on this
 * site, and the other site's host when the code names one), or null for anything else.
 */
export function bottlePath(text, origin = location.origin) {
  let url;
  try {
    url = new URL(text.trim());
  } catch {
    return null;
  }
  if (!/^https?:$/.test(url.protocol) || !DIGITAL_LINK.test(url.pathname)) return null;
  return { path: url.pathname + url.search, foreignHost: url.origin === origin ? null : url.host };
}

export function isBottlePath(pathname) {
  return DIGITAL_LINK.test(pathname);
}

// Classic scripts (the vendored decoders) load on demand, once, by a <script> element.
export function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

let jsQRLoading = null;

async function decoder() {
  if ("BarcodeDetector" in window) {
    try {
      if ((await window.BarcodeDetector.getSupportedFormats()).includes("qr_code")) {
        const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        return async (video) => (await detector.detect(video))[0]?.rawValue ?? null;
      }
    } catch {
      // a detector that lists no formats or throws: jsQR below does the work
    }
  }
  jsQRLoading ??= loadScript(new URL("jsQR.js", import.meta.url).href).then(() => window.jsQR);
  const jsQR = await jsQRLoading;
  if (typeof jsQR !== "function") throw new Error("jsQR did not load");
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return async (video) => {
    if (!video.videoWidth) return null;
    const scale = Math.min(1, MAX_DECODE_WIDTH / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    const frame = context.getImageData(0, 0, canvas.width, canvas.height);
    return jsQR(frame.data, frame.width, frame.height, { inversionAttempts: "dontInvert" })?.data ?? null;
  };
}

/**
 * Reads QR codes from `video` until `onCode(text)` returns true or `stop()` is called. Rejects when no
 * decoder could be loaded.
 */
export async function readCodes(video, onCode) {
  const decode = await decoder();
  let stopped = false;
  let timer = null;
  const tick = async () => {
    if (stopped) return;
    let text = null;
    try {
      text = await decode(video);
    } catch {
      // a frame that is not ready yet (or a detector hiccup): the next one will do
    }
    if (stopped) return;
    if (text && onCode(text)) {
      stopped = true;
      return;
    }
    timer = setTimeout(tick, FRAME_EVERY_MS);
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
