// Who signs, and how a write reaches the ledger. Keys never leave the browser: a keystore is decrypted here with
// ethers and its wallet kept in this tab's memory only; a browser wallet (window.ethereum, EIP-1193) keeps its
// key to itself. Either way the sign-in message is EIP-4361, from the API's nonce.
//
// A write asks the API for the unsigned transaction (`X-Ledger-Signing: client`): the API checks reach and
// runs the gas estimate first, so a refusal comes back by name before anything is signed. The keystore's
// wallet signs it and the console relays it (`POST /v1/transactions/raw`); a browser wallet sends it itself
// (`eth_sendTransaction`). Then the transaction is followed (`GET /v1/transactions/{hash}`) until the mirror
// has it, and the page reads the resulting object.

import { api, ApiError } from "./session.js";

/** A sign-in or signing failure the console names for the member, like the API's errors. */
export class ConsoleError extends Error {
  constructor(error, message, detail = {}) {
    super(message);
    this.error = error;
    this.detail = { message, ...detail };
  }
}

function ethers() {
  if (!window.ethers)
    throw new ConsoleError("SigningLibraryMissing", "The signing library did not load: reload the page.");
  return window.ethers;
}

/** The wallet in an eth-account / geth V3 keystore file, decrypted with `password`. */
export async function openKeystore(text, password, onProgress = () => {}) {
  const lib = ethers();
  if (!lib.isKeystoreJson(text)) {
    throw new ConsoleError("NotAKeystore", "This file is not an encrypted keystore (a version 3 JSON key file).");
  }
  try {
    return await lib.Wallet.fromEncryptedJson(text, password, onProgress);
  } catch (error) {
    if (error && error.argument === "password") {
      throw new ConsoleError("WrongPassword", "The password does not open this keystore.");
    }
    throw new ConsoleError("NotAKeystore", `The keystore could not be read: ${error.shortMessage || error.message}`);
  }
}

export function keystoreSigner(wallet) {
  return {
    kind: "keystore",
    address: wallet.address,
    signMessage: (message) => wallet.signMessage(message),
    async send(unsigned, step) {
      const raw = await wallet.signTransaction({
        type: 0,
        to: unsigned.to,
        data: unsigned.data,
        gasLimit: BigInt(unsigned.gas),
        gasPrice: BigInt(unsigned.gas_price),
        nonce: unsigned.nonce,
        chainId: BigInt(unsigned.chain_id),
        value: BigInt(unsigned.value || 0),
      });
      step("sent", { tx_hash: ethers().keccak256(raw) });
      // The relay answers once the transaction is mined and mirrored, or with 202 when that takes longer.
      const answer = await api("/v1/transactions/raw", { method: "POST", body: { raw } });
      return { tx_hash: answer.tx_hash, block: answer.block, mirrored: answer.result !== undefined };
    },
  };
}

export function walletAvailable() {
  return Boolean(window.ethereum && typeof window.ethereum.request === "function");
}

const hex = (n) => `0x${BigInt(n).toString(16)}`;

export async function walletSigner(address = null) {
  const provider = window.ethereum;
  if (!address) {
    const accounts = await provider.request({ method: "eth_requestAccounts" });
    if (!accounts || !accounts.length) throw new ConsoleError("NoWalletAccount", "The wallet shared no account.");
    address = accounts[0];
  }
  address = ethers().getAddress(address);
  return {
    kind: "wallet",
    address,
    signMessage: (message) =>
      provider.request({
        method: "personal_sign",
        params: [ethers().hexlify(ethers().toUtf8Bytes(message)), address],
      }),
    async send(unsigned, step) {
      const tx_hash = await provider.request({
        method: "eth_sendTransaction",
        params: [
          {
            from: address,
            to: unsigned.to,
            data: unsigned.data,
            gas: hex(unsigned.gas),
            gasPrice: hex(unsigned.gas_price),
            nonce: hex(unsigned.nonce),
            value: hex(unsigned.value || 0),
            chainId: hex(unsigned.chain_id),
          },
        ],
      });
      step("sent", { tx_hash });
      return { tx_hash, mirrored: false };
    },
  };
}

/** Signs in as `signer`'s account (EIP-4361): the session to save, with the account as the API describes it. */
export async function signIn(signer) {
  const { message } = await api("/v1/auth/nonce", { method: "POST", body: { address: signer.address }, session: null });
  let signature;
  try {
    signature = await signer.signMessage(message);
  } catch (error) {
    throw new ConsoleError("SignatureDeclined", `The sign-in message was not signed: ${error.message || error}`);
  }
  const token = await api("/v1/auth/token", { method: "POST", body: { message, signature }, session: null });
  return {
    token: token.access_token,
    address: token.account.address,
    signer: signer.kind,
    expires_at: Math.floor(Date.now() / 1000) + token.expires_in,
    account: token.account,
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Follows a sent transaction until the mirror has it; throws `TransactionFailed` for a revert on chain. */
export async function follow(txHash, step, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let status = null;
    try {
      status = await api(`/v1/transactions/${txHash}`);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error; // not yet seen by the node
    }
    if (status && status.status === "failed") {
      throw new ConsoleError("TransactionFailed", "The transaction was mined but reverted.", { tx_hash: txHash });
    }
    if (status && status.status === "mirrored") return status;
    if (status && status.status === "mined") step("mined", status);
    if (Date.now() > deadline) {
      throw new ConsoleError("StillPending", "The ledger has not recorded the transaction yet; look again later.", {
        tx_hash: txHash,
      });
    }
    await sleep(250);
  }
}

/**
 * Performs one write as the member: `path` and `body` as the write endpoint takes them; `card` shows progress.
 * Answers the transaction hash once the mirror has it.
 */
export async function perform(signer, path, body, card) {
  card.step("checking");
  const unsigned = await api(path, { method: "POST", body, headers: { "X-Ledger-Signing": "client" } });
  card.step("signing");
  const sent = await signer.send(unsigned, card.step);
  const done = sent.mirrored ? sent : await follow(sent.tx_hash, card.step);
  card.step("mirrored", { tx_hash: sent.tx_hash, block: done.block });
  return sent.tx_hash;
}
