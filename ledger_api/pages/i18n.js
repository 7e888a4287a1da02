// The scan page's words in Chinese and English, the choice between them and the viewer's date format.
// Verdict reasons are keyed by the scan answer's `reason_code`, so a consumer reads them in their own
// language; the answer's English `reason` is only the fallback for a code this page does not know yet.

const STORED = "baijiu.lang";

export const MESSAGES = {
  en: {
    "page.title": "Bottle check",
    "brand": "Baijiu bottle check",
    "lang.switch": "中文",
    "lang.switch.label": "切换到中文",
    "checking": "Checking this bottle on the ledger…",
    "verdict.genuine": "Genuine bottle",
    "verdict.opened": "This bottle has been opened",
    "verdict.suspicious": "Suspicious code",
    "verdict.diverted": "Sold outside its region",
    "verdict.recalled": "Recalled: do not drink",
    "verdict.unknown": "Warning: not a genuine code",
    "reason.genuine": "This bottle is genuine: its code is on the ledger and it has not been opened.",
    "reason.opened_by_store": "A store has marked this bottle as sold opened: it may have been refilled.",
    "reason.opened_by_consumer": "A consumer has marked this bottle as opened: if it is offered to you sealed, "
      + "it may have been refilled.",
    "reason.copied_code_devices": "This code has been scanned from more phones than one bottle's buyers use: "
      + "it may have been copied onto fake bottles.",
    "reason.copied_code_places": "This code has been scanned in more places than one bottle travels: "
      + "it may have been copied onto fake bottles.",
    "reason.outside_region": "This bottle was shipped to {seller} in {region} and is being sold outside that region.",
    "reason.outside_region.unnamed": "This bottle was shipped to a seller in another region and is being sold "
      + "outside it.",
    "reason.lot_recalled": "The brand has recalled this bottle's lot: do not drink it.",
    "reason.no_such_code": "The brand never issued this code. The bottle is very likely counterfeit: do not buy "
      + "or drink it.",
    "recall.reason": "Recall reason: {reason}",
    "scans.first": "This is the first scan of this code.",
    "scans.many": "Scanned {count} times, this scan included.",
    "first.scan": "First scanned {at} in {place}.",
    "first.scan.nowhere": "First scanned {at}.",
    "this.scan": "This scan: {place}.",
    "place.unknown": "an unknown place",
    "product": "The bottle",
    "product.gtin": "GTIN",
    "product.lot": "Lot",
    "product.commissioned": "Bottled",
    "product.per.case": "Bottles per case",
    "journey": "Its journey",
    "journey.none": "The ledger has no journey for this code.",
    "step.commissioned": "Bottled and registered",
    "step.dispatched": "Dispatched",
    "step.checkpoint": "Checkpoint on the way",
    "step.received": "Received",
    "step.sold": "Sold",
    "step.written_off": "Written off",
    "step.recalled": "Recalled",
    "step.at": "at {name}",
    "step.to": "to {name}",
    "step.carrier": "by {carrier}",
    "step.eta": "expected {eta}",
    "step.tx": "transaction {tx}",
    "kind.warehouse": "warehouse",
    "kind.distributor": "distributor",
    "kind.store": "store",
    "kind.region": "regional center",
    "kind.brand": "brand",
    "story": "The brand's story",
    "media.model": "3D model of the bottle (download)",
    "ar.button": "See the story in AR",
    "ar.title": "The story over your camera",
    "ar.starting": "Starting the camera…",
    "ar.live": "Point your camera at the bottle.",
    "ar.denied": "The camera was not allowed, so here is the story without AR.",
    "ar.unavailable": "No camera is available, so here is the story without AR.",
    "ar.no.media": "The brand has published no pictures or films for this bottle yet.",
    "close": "Close",
    "scan.title": "Check a bottle",
    "scan.intro": "Scan the QR code on the bottle to see whether it is genuine, where it has been and its story.",
    "scan.button": "Scan a code",
    "scan.again": "Scan another bottle",
    "scan.aim": "Point the camera at the QR code on the bottle.",
    "scan.starting": "Starting the camera…",
    "scan.denied": "The camera was not allowed. Allow it in your browser's settings, or open the link under the "
      + "bottle's code yourself.",
    "scan.unavailable": "No camera is available on this device.",
    "scan.found": "Found a bottle code, opening it…",
    "scan.foreign": "This code points to {host}. Its bottle code is checked here instead: opening it…",
    "scan.not.bottle": "This QR code is not a bottle code: {text}",
    "scan.no.decoder": "The QR decoder could not be loaded. Try again later.",
    "opened.button": "I opened this bottle",
    "opened.explain": "Marking it opened protects the next buyer: anyone who scans this code afterwards is told "
      + "the bottle was opened, so a refilled bottle cannot pass as sealed.",
    "opened.failed": "The bottle could not be marked opened. Please try again.",
    "proof": "Proof on the ledger",
    "proof.lot": "Lot id",
    "proof.serial": "Serial",
    "proof.case": "Case",
    "proof.root": "Lot root",
    "proof.leaf": "Bottle leaf",
    "proof.siblings": "Proof hashes",
    "proof.contract": "Inventory contract",
    "proof.chain": "Chain id",
    "proof.tx": "Lot transaction",
    "proof.browser.checking": "Checking the proof in your browser…",
    "proof.browser.ok": "Verified in your browser ✓: the bottle's leaf leads to the lot's root.",
    "proof.browser.bad": "Not verified in your browser ✗: the proof does not lead to the lot's root.",
    "proof.browser.unavailable": "Your browser could not check the proof (the hash library did not load).",
    "verify.title": "Verify it yourself",
    "verify.intro": "You need not trust this site: the lot's root is on the chain, and anyone can check it.",
    "verify.leaf": "The bottle's leaf is keccak256(keccak256(abi.encode(serial, case))), with the serial a "
      + "string and the case a uint32.",
    "verify.up": "Hash it up with the proof hashes in order: each step hashes the pair with the smaller hash first "
      + "(sorted pairs). The result must be the lot root.",
    "verify.chain": "Compare the root with Inventory.lotRoot({lot}) on chain {chain} at {contract} through any "
      + "RPC node, or call Inventory.verifyBottle({lot}, serial, case, proof hashes): it must answer true.",
    "verify.command": "Or run this in the project:",
    "error.title": "We could not check this bottle",
    "error.InvalidCode": "This is not a valid bottle code ({message}). Check that you scanned the code on the bottle.",
    "error.RateLimited": "You are scanning too fast. Please wait {seconds} seconds and try again.",
    "error.NotFound": "This bottle could not be found on the ledger.",
    "error.unreachable": "We could not check this bottle right now. Please try again in a moment.",
    "retry": "Try again",
  },
  zh: {
    "page.title": "真伪查询",
    "brand": "白酒真伪查询",
    "lang.switch": "English",
    "lang.switch.label": "Switch to English",
    "checking": "正在区块链账本上查询此瓶……",
    "verdict.genuine": "正品",
    "verdict.opened": "此瓶已开封",
    "verdict.suspicious": "可疑瓶码",
    "verdict.diverted": "跨区销售（窜货）",
    "verdict.recalled": "已召回，请勿饮用",
    "verdict.unknown": "警告：非正品瓶码",
    "reason.genuine": "此瓶为正品：瓶码已登记在区块链账本上，且未开封。",
    "reason.opened_by_store": "门店已将此瓶标记为开封售出：可能已被重新灌装。",
    "reason.opened_by_consumer": "已有消费者将此瓶标记为开封：若有人以未开封的名义卖给您，可能已被重新灌装。",
    "reason.copied_code_devices": "此码被过多不同的手机扫描过：可能已被复制到假酒瓶上。",
    "reason.copied_code_places": "此码在过多不同地点被扫描过：可能已被复制到假酒瓶上。",
    "reason.outside_region": "此瓶发往{region}的{seller}，现却在该区域以外销售。",
    "reason.outside_region.unnamed": "此瓶发往其他区域的经销商或门店，现却在该区域以外销售。",
    "reason.lot_recalled": "品牌商已召回此瓶所属批次：请勿饮用。",
    "reason.no_such_code": "品牌商从未发行过此码。此瓶极可能是假冒产品：请勿购买或饮用。",
    "recall.reason": "召回原因：{reason}",
    "scans.first": "这是此码的首次扫描。",
    "scans.many": "此码已被扫描 {count} 次（含本次）。",
    "first.scan": "首次扫描：{at}，{place}。",
    "first.scan.nowhere": "首次扫描：{at}。",
    "this.scan": "本次扫描地点：{place}。",
    "place.unknown": "未知地点",
    "product": "产品信息",
    "product.gtin": "商品条码（GTIN）",
    "product.lot": "批次",
    "product.commissioned": "灌装时间",
    "product.per.case": "每箱瓶数",
    "journey": "流通轨迹",
    "journey.none": "账本上没有此码的流通轨迹。",
    "step.commissioned": "灌装登记",
    "step.dispatched": "发货",
    "step.checkpoint": "运输途中",
    "step.received": "签收",
    "step.sold": "售出",
    "step.written_off": "注销",
    "step.recalled": "召回",
    "step.at": "地点：{name}",
    "step.to": "发往：{name}",
    "step.carrier": "承运：{carrier}",
    "step.eta": "预计到达：{eta}",
    "step.tx": "交易：{tx}",
    "kind.warehouse": "仓库",
    "kind.distributor": "经销商",
    "kind.store": "终端门店",
    "kind.region": "区域营销中心",
    "kind.brand": "品牌商",
    "story": "品牌故事",
    "media.model": "酒瓶 3D 模型（下载）",
    "ar.button": "AR 观看品牌故事",
    "ar.title": "在摄像头画面上观看品牌故事",
    "ar.starting": "正在打开摄像头……",
    "ar.live": "请将摄像头对准酒瓶。",
    "ar.denied": "未获准使用摄像头，为您直接展示品牌故事。",
    "ar.unavailable": "此设备没有可用的摄像头，为您直接展示品牌故事。",
    "ar.no.media": "品牌商尚未为此酒发布图片或视频。",
    "close": "关闭",
    "scan.title": "查验真伪",
    "scan.intro": "扫描瓶身上的二维码，查看是否为正品、流通轨迹和品牌故事。",
    "scan.button": "扫码查验",
    "scan.again": "扫描另一瓶",
    "scan.aim": "请将摄像头对准瓶身上的二维码。",
    "scan.starting": "正在打开摄像头……",
    "scan.denied": "未获准使用摄像头。请在浏览器设置中允许，或直接打开瓶码下方的链接。",
    "scan.unavailable": "此设备没有可用的摄像头。",
    "scan.found": "已识别瓶码，正在打开……",
    "scan.foreign": "此码指向 {host}。将在本站查验其瓶码：正在打开……",
    "scan.not.bottle": "此二维码不是瓶码：{text}",
    "scan.no.decoder": "二维码识别程序加载失败，请稍后再试。",
    "opened.button": "我已开封此瓶",
    "opened.explain": "标记开封可以保护下一位买家：之后扫描此码的人都会看到此瓶已开封，重新灌装的酒无法冒充未开封的正品。",
    "opened.failed": "未能标记开封，请重试。",
    "proof": "账本证明",
    "proof.lot": "批次编号",
    "proof.serial": "瓶码序列号",
    "proof.case": "箱号",
    "proof.root": "批次根哈希",
    "proof.leaf": "此瓶叶子哈希",
    "proof.siblings": "证明哈希",
    "proof.contract": "库存合约（Inventory）",
    "proof.chain": "链 ID",
    "proof.tx": "批次交易",
    "proof.browser.checking": "正在您的浏览器中验证证明……",
    "proof.browser.ok": "已在您的浏览器中验证 ✓：此瓶的叶子哈希可推导出批次根哈希。",
    "proof.browser.bad": "浏览器验证未通过 ✗：此证明推导不出批次根哈希。",
    "proof.browser.unavailable": "您的浏览器无法验证此证明（哈希程序未能加载）。",
    "verify.title": "自行验证",
    "verify.intro": "您无需信任本站：批次根哈希记录在区块链上，任何人都可以核对。",
    "verify.leaf": "此瓶的叶子哈希为 keccak256(keccak256(abi.encode(serial, case)))，其中序列号为 string，箱号为 uint32。",
    "verify.up": "依次与证明哈希两两相哈希：每一步把较小的哈希放在前面（排序后成对哈希），最终结果必须等于批次根哈希。",
    "verify.chain": "通过任意 RPC 节点，在链 {chain} 上的 {contract} 合约调用 Inventory.lotRoot({lot}) 与根哈希比对；"
      + "或调用 Inventory.verifyBottle({lot}, serial, case, 证明哈希)，其结果必须为 true。",
    "verify.command": "或在项目中运行：",
    "error.title": "无法查验此瓶",
    "error.InvalidCode": "这不是有效的瓶码。请确认扫描的是瓶身上的二维码。",
    "error.RateLimited": "扫描过于频繁，请 {seconds} 秒后再试。",
    "error.NotFound": "账本上找不到此瓶。",
    "error.unreachable": "暂时无法查询此瓶，请稍后重试。",
    "retry": "重试",
  },
};

function stored() {
  try {
    return localStorage.getItem(STORED);
  } catch {
    return null; // storage may be off (private browsing): the choice then lasts one visit
  }
}

/** The language to show first: the viewer's earlier choice, else their browser's language. */
export function initialLanguage() {
  const chosen = stored();
  if (chosen === "zh" || chosen === "en") return chosen;
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
}

export function rememberLanguage(lang) {
  try {
    localStorage.setItem(STORED, lang);
  } catch {
    // see stored()
  }
}

/** The message `key` in `lang` with `{name}` placeholders filled from `vars`; English, then the key, if absent. */
export function t(lang, key, vars = {}) {
  const text = MESSAGES[lang]?.[key] ?? MESSAGES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

export function has(lang, key) {
  return key in MESSAGES[lang] || key in MESSAGES.en;
}

function locale(lang) {
  // English readers keep their own country's date order; Chinese is shown as in mainland China.
  const browser = navigator.language || "en";
  return lang === "zh" ? "zh-CN" : browser.toLowerCase().startsWith("en") ? browser : "en";
}

/** An ISO time in the viewer's time zone and in the chosen language's format; "" for none. */
export function formatTime(lang, iso) {
  if (!iso) return "";
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  return new Intl.DateTimeFormat(locale(lang), { dateStyle: "medium", timeStyle: "short" }).format(at);
}
