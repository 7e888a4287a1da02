// Checks a scan answer's Merkle proof in the browser, exactly as Inventory.verifyBottle does on chain: the
// leaf is keccak256(keccak256(abi.encode(string serial, uint32 case))) and each step hashes a sorted pair
// (OpenZeppelin's StandardMerkleTree). keccak256 comes from the vendored js-sha3, loaded only when a proof
// is shown. This proves the answer is self-consistent; comparing the root with the chain is the reader's step.

import { loadScript } from "./camera.js";

const encoder = new TextEncoder();

function hexToBytes(hex) {
  const clean = hex.startsWith("0x") ? hex.slice(2) : hex;
  if (clean.length % 2 || /[^0-9a-f]/i.test(clean)) throw new Error(`not hex: ${hex}`);
  const bytes = new Uint8Array(clean.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

function bytesToHex(bytes) {
  return "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function word(value) {
  const out = new Uint8Array(32);
  let rest = BigInt(value);
  for (let i = 31; i >= 0 && rest > 0n; i--) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}

/** abi.encode(string serial, uint32 caseNumber): head (offset, case), then the string's length and bytes. */
export function encodeBottle(serial, caseNumber) {
  const text = encoder.encode(serial);
  const padded = Math.ceil(text.length / 32) * 32;
  const out = new Uint8Array(96 + padded);
  out.set(word(64), 0);
  out.set(word(caseNumber), 32);
  out.set(word(text.length), 64);
  out.set(text, 96);
  return out;
}

function compare(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

let keccakLoading = null;

async function keccak() {
  // js-sha3 is a classic script that defines window.keccak256; one load serves every proof.
  keccakLoading ??= loadScript(new URL("sha3.js", import.meta.url).href).then(() => window.keccak256);
  const hash = await keccakLoading;
  if (typeof hash !== "function") throw new Error("js-sha3 did not define keccak256");
  return (bytes) => new Uint8Array(hash.array(bytes));
}

/**
 * Recomputes the proof: `{leafMatches, rootMatches, leaf, root}` with the computed hashes; `ok` when the
 * serial and case give the answer's leaf and the siblings lead from it to the answer's root.
 */
export async function checkProof(proof) {
  const hash = await keccak();
  const leaf = hash(hash(encodeBottle(proof.serial, Number(proof.case))));
  let node = leaf;
  for (const sibling of proof.siblings) {
    const other = hexToBytes(sibling);
    const pair = new Uint8Array(64);
    const [first, second] = compare(node, other) < 0 ? [node, other] : [other, node];
    pair.set(first, 0);
    pair.set(second, 32);
    node = hash(pair);
  }
  const leafHex = bytesToHex(leaf);
  const rootHex = bytesToHex(node);
  const leafMatches = leafHex === proof.leaf.toLowerCase();
  const rootMatches = rootHex === proof.root.toLowerCase();
  return { ok: leafMatches && rootMatches, leafMatches, rootMatches, leaf: leafHex, root: rootHex };
}
