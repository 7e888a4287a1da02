// The board's words in English and Chinese. A text is looked up by its English wording, which is also what
// shows when no translation exists (the API's own sentences, such as reasons and the health formula, are
// English). The language is the one the scan page remembers for this browser, so a member reads both in the
// same language; `{name}` in a text is filled from its variables.

import { initialLanguage, rememberLanguage } from "./i18n.js";

let current = initialLanguage();

export const language = () => current;

export function chooseLanguage(lang) {
  current = lang;
  rememberLanguage(lang);
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

/** `text` in the current language, its `{name}`s filled from `vars`. */
export function tr(text, vars = {}) {
  const template = current === "zh" ? ZH[text] ?? text : text;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

const ZH = {
  // the page
  "Fulfilment and risk board": "履约与风险看板",
  "Region": "区域",
  "All regions": "全部区域",
  "Show the board for a region": "按区域查看看板",
  "ledger as of {time}": "账本截至 {time}",
  "Loading…": "加载中…",
  "from {path}": "来自 {path}",
  "Sign in again": "重新登录",
  "Sign in": "登录",
  "Sign in to see the board": "登录后查看看板",
  "The board shows what your organisation may see of the ledger, so it needs you signed in.":
    "看板显示贵机构在账本上可见的数据，因此需要先登录。",
  "{error}: your session is no longer valid; sign in again.": "{error}：会话已失效，请重新登录。",
  "the API could not be reached": "无法连接 API",
  "your region": "本区域",
  // order cycle time
  "Order cycle time": "订单周期",
  "Submit → approved → delivered, against the 8 h approval target (12 h for urgent orders).":
    "提交 → 审批 → 交付，对照 8 小时审批目标（加急订单 12 小时）。",
  "{v} h": "{v} 小时",
  "{v} d": "{v} 天",
  "no sales": "无销售",
  "approval median, week of {week}": "审批中位数（{week} 当周）",
  "approved within target that week": "当周按时审批占比",
  "weeks drawn": "周数",
  "Weekly approval and delivery hours against the 8 and 12 hour targets": "每周审批与交付时长，对照 8 与 12 小时目标",
  "Approval median": "审批中位数",
  "Approval p90": "审批 P90",
  "Urgent approval median": "加急审批中位数",
  "Delivery median (right axis)": "交付中位数（右轴）",
  "Delivery p90 (right axis)": "交付 P90（右轴）",
  "{v} h approval target": "{v} 小时审批目标",
  "{v} h urgent target": "{v} 小时加急目标",
  "{v} h target": "{v} 小时目标",
  "approval, hours": "审批（小时）",
  "delivery, hours": "交付（小时）",
  "week starting (UTC)": "周起始（UTC）",
  "hours": "小时",
  "No orders were submitted in this reach yet.": "可见范围内尚无订单。",
  "No orders in this reach yet.": "可见范围内尚无订单。",
  "orders": "订单数",
  "submit → approved, median": "提交 → 审批，中位数",
  "submit → approved, p90": "提交 → 审批，P90",
  "approved within target": "按时审批占比",
  "submit → delivered, median": "提交 → 交付，中位数",
  "Approval hours per region, median and p90, against the target": "各区域审批时长（中位数与 P90），对照目标",
  // delay early warning
  "Delay early warning": "延误预警",
  "Shipments in transit predicted to miss their ETA, and how well the prediction did on shipments already received.":
    "预计无法按时到达的在途运单，以及预测在已签收运单上的表现。",
  "shipments at risk now": "当前风险运单",
  "precision: of {n} flagged, late": "精确率：{n} 单预警中真正延误",
  "recall: of {n} late, flagged": "召回率：{n} 单延误中被预警",
  "median warning ahead of the ETA": "预警提前量中位数",
  "Back-tested over {shipments} received shipments: {both} flagged and really late.":
    "在 {shipments} 单已签收运单上回测：{both} 单预警且确实延误。",
  "Shipments predicted to miss their ETA, highest risk first": "预计延误的运单，风险从高到低",
  "risk {v}": "风险 {v}",
  "Shipment #{id}": "运单 #{id}",
  "order #{id}": "订单 #{id}",
  "+{v} late": "预计晚 {v}",
  "ETA {eta} · predicted {predicted}": "预计到达 {eta} · 预测 {predicted}",
  "No shipment in transit is predicted to miss its ETA.": "没有在途运单预计延误。",
  "and {n} more at risk": "另有 {n} 单存在风险",
  // stock imbalance
  "Stock imbalance": "库存失衡",
  "Days of cover per region and SKU from the channel's sell-through.": "按渠道动销计算的各区域、各 SKU 可售天数。",
  "No stock or sales in this reach yet.": "可见范围内尚无库存或销售。",
  "region × SKU short (under {v} d)": "缺货的区域 × SKU（少于 {v} 天）",
  "with a surplus (over {v} d or unsold)": "积压（多于 {v} 天或无销售）",
  "sell-through window": "动销统计窗口",
  "The biggest imbalances": "最大的失衡",
  "shortage": "缺货",
  "surplus": "积压",
  "{region} is short of {sku}: {days} of cover ({cases} cases, selling {rate}/day{coming}).":
    "{region} 的 {sku} 缺货：可售 {days}（{cases} 箱，日销 {rate}{coming}）。",
  ", {n} on the way": "，在途 {n} 箱",
  "{region} sits on {cases} cases of {sku}: {cover}.": "{region} 积压 {sku} {cases} 箱：{cover}。",
  "none sold in the window": "窗口内无销售",
  "{days} of cover": "可售 {days}",
  "SKUs short, balanced and in surplus per region": "各区域缺货、平衡与积压的 SKU 数",
  "SKUs short": "缺货 SKU",
  "SKUs balanced": "平衡 SKU",
  "SKUs in surplus": "积压 SKU",
  "SKUs": "SKU 数",
  "Days of cover per region and SKU": "各区域、各 SKU 可售天数",
  "unsold": "无销售",
  "{region} · {sku}: {held} on hand, {coming} on the way, {rate}/day":
    "{region} · {sku}：在库 {held}，在途 {coming}，日销 {rate}",
  "under {v} days": "少于 {v} 天",
  "over {v} days or unsold": "多于 {v} 天或无销售",
  "figures are days of cover at the sell-through of the last {v} days.": "数字为按最近 {v} 天动销计算的可售天数。",
  // transfer suggestions
  "Transfer suggestions": "调拨建议",
  "Which warehouse should ship how many cases where.": "哪个仓库应向何处调拨多少箱。",
  "Scored by {weights}; best first.": "按 {weights} 评分，最优在前。",
  "Executing one asks the ledger for the transfer; the brand's sales director approves it.":
    "执行即在账本上申请调拨，由品牌销售总监审批。",
  "Transfer suggestions, best first": "调拨建议，最优在前",
  "Execute: move {cases} cases of {sku} from {from} to {to}": "执行：将 {cases} 箱 {sku} 从 {from} 调往 {to}",
  "Execute": "执行",
  "Requesting…": "申请中…",
  "Requested": "已申请",
  "{cases} cases of {sku}": "{sku} {cases} 箱",
  "{lead} lead time · {cost} · cover {before} → {after} · score {score}":
    "时效 {lead} · {cost} · 可售 {before} → {after} · 评分 {score}",
  "Transfer #{id} {state}: {cases} cases. ": "调拨 #{id} {state}：{cases} 箱。",
  "Sent; the ledger has not confirmed it yet. ": "已发送，账本尚未确认。",
  "Transaction ": "交易 ",
  "No transfer would ease an imbalance right now.": "目前没有可缓解失衡的调拨。",
  // distributor health
  "Distributor health": "经销商健康度",
  "A score from 0 to 100 per distributor; the top 20% are marked.": "每个经销商 0-100 分，标出前 20%。",
  "Distributor health score, ranked; the top 20% in green": "经销商健康度排名，前 20% 为绿色",
  "Health score (0-100)": "健康度（0-100）",
  "{n} distributors by rank": "按排名的 {n} 个经销商",
  "No distributor in this reach.": "可见范围内没有经销商。",
  "Top 20%: {n} of {total}": "前 20%：{total} 个中的 {n} 个",
  // price alerts
  "Price alerts": "价格预警",
  "Price changes beyond the alert threshold, by revision.": "超出预警阈值的调价，按调价批次列出。",
  "A change of more than {v} raises an alert; {alerts} alerts in {revisions} price revisions.":
    "变动超过 {v} 即预警；{revisions} 次调价中共 {alerts} 条预警。",
  "Price revisions with alerts, newest first": "含预警的调价批次，最新在前",
  "{n} SKU": "{n} 个 SKU",
  "{n} SKUs": "{n} 个 SKU",
  "up to {v}": "最高 {v}",
  "(tier {tier})": "（价格等级 {tier}）",
  "and {n} more": "另有 {n} 条",
  "No price change beyond the threshold.": "没有超出阈值的调价。",
  // scan intelligence
  "Scan intelligence": "扫码情报",
  "Consumer scans by verdict: counterfeit (unknown), opened and diversion hot spots.":
    "按判定统计的消费者扫码：假冒（未知码）、开封与窜货热点。",
  "Consumer scans per week by verdict": "每周扫码数（按判定）",
  "No consumer scans logged yet.": "尚无消费者扫码记录。",
  "Regions by risk share": "各区域风险占比",
  "{region} · {n} scans": "{region} · {n} 次扫码",
  "risk share {v}": "风险占比 {v}",
  "None.": "无。",
  "Hot spots": "热点",
  "No counterfeit, opened or diverted scans.": "没有假冒、开封或窜货扫码。",
  "unknown region": "未知区域",
  "genuine": "正品",
  "opened": "已开封",
  "suspicious": "可疑",
  "diverted": "窜货",
  "recalled": "已召回",
  "unknown": "未知码",
};
