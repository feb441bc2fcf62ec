/**
 * Free-text overlap metrics, one score per example as Vertex's Gen AI evaluation service gives
 * them (BleuMetricValue and RougeMetricValue "for an instance", evaluation_service.proto), each in
 * 0..1:
 *  - ROUGE-L: the F-measure of the longest common token subsequence (Lin 2004, "ROUGE: A Package
 *    for Automatic Evaluation of Summaries"; precision LCS/|prediction|, recall LCS/|reference|,
 *    F = 2PR/(P+R), the `fmeasure` of Google's rouge_score package). No stemming (RougeSpec's
 *    use_stemmer defaults to false).
 *  - BLEU: sentence BLEU up to 4-grams with the brevity penalty (Papineni et al. 2002) and
 *    effective order (BleuSpec.use_effective_order: orders the prediction is too short for are
 *    left out), zero counts smoothed by halving as sacreBLEU's default "exp" smoothing does, and 0
 *    when no word is shared; equal to sacreBLEU 2.6.0's sentence_bleu on the same tokens
 *    (test/unit/evaluation/text-metrics.test.ts).
 * Tokens are lowercase runs of letters or digits, each CJK character a token of its own: Google
 * does not document its service's tokenizer, and rouge_score's own drops every non-ASCII letter.
 */

/** At most this many tokens a text take part (the LCS table is |a|×|b|). */
export const MAX_METRIC_TOKENS = 4000;

const CJK = '\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}';
const TOKEN = new RegExp(`[${CJK}]|(?:(?![${CJK}])[\\p{L}\\p{N}])+`, 'gu');

export function metricTokens(text: string): string[] {
  const tokens = text.normalize('NFKC').toLowerCase().match(TOKEN) ?? [];
  return tokens.length > MAX_METRIC_TOKENS ? tokens.slice(0, MAX_METRIC_TOKENS) : tokens;
}

export function rougeL(prediction: string, reference: string): number {
  const a = metricTokens(prediction);
  const b = metricTokens(reference);
  if (a.length === 0 || b.length === 0) return a.length === b.length ? 1 : 0;
  // One row at a time: memory |b|, time |a|×|b|.
  let previous = new Uint16Array(b.length + 1);
  let current = new Uint16Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) current[j] = a[i - 1] === b[j - 1] ? previous[j - 1]! + 1 : Math.max(previous[j]!, current[j - 1]!);
    [previous, current] = [current, previous];
  }
  const lcs = previous[b.length]!;
  if (lcs === 0) return 0;
  const precision = lcs / a.length;
  const recall = lcs / b.length;
  return round((2 * precision * recall) / (precision + recall));
}

export function bleu(prediction: string, reference: string, maxOrder = 4): number {
  const hypothesis = metricTokens(prediction);
  const target = metricTokens(reference);
  if (hypothesis.length === 0) return target.length === 0 ? 1 : 0;
  let logSum = 0;
  let orders = 0;
  let smoothing = 1;
  for (let n = 1; n <= maxOrder; n++) {
    const total = hypothesis.length - n + 1;
    if (total <= 0) break; // effective order
    const available = ngramCounts(target, n);
    let correct = 0;
    for (const [gram, count] of ngramCounts(hypothesis, n)) correct += Math.min(count, available.get(gram) ?? 0);
    // No word in common: 0, however it would smooth (sacreBLEU does the same).
    if (n === 1 && correct === 0) return 0;
    let precision: number;
    if (correct === 0) {
      smoothing *= 2;
      precision = 1 / (smoothing * total);
    } else precision = correct / total;
    logSum += Math.log(precision);
    orders += 1;
  }
  const brevity = hypothesis.length < target.length ? Math.exp(1 - target.length / hypothesis.length) : 1;
  return round(brevity * Math.exp(logSum / orders));
}

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const gram = tokens.slice(i, i + n).join('\u0000');
    counts.set(gram, (counts.get(gram) ?? 0) + 1);
  }
  return counts;
}

const round = (value: number) => Number(value.toFixed(6));
