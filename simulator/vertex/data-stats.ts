/**
 * `tuningDataStats.supervisedTuningDataStats` as the SIMULATOR reports it, in the shape of
 * SupervisedTuningDataStats (google/cloud/aiplatform/v1beta1/tuning_job.proto). Like the real
 * one it carries sample training conversations (`userDatasetExamples`), so the pipeline is tested
 * against stats that hold customers' data. What the simulator cannot know it leaves out rather
 * than invents: token distributions per role (it counts tokens per example only), and
 * `droppedExampleReasons` (no source says when Vertex drops an example).
 */
export interface ExampleStats {
  value: unknown;
  tokens: number;
}

interface Content {
  role?: string;
  parts?: { text?: string }[];
}

/** How many sample conversations the stats carry (the proto does not say how many Vertex sends). */
const SAMPLE_EXAMPLES = 3;
/** Examples per tuning step: not published; a stand-in so the count moves with the data. */
const EXAMPLES_PER_STEP = 8;

export function supervisedDataStats(
  examples: ExampleStats[],
  options: { epochs: number; truncateOverTokens: number | null },
): Record<string, unknown> {
  const contents = examples.map((example) => (example.value as { contents?: Content[] }).contents ?? []);
  const characters = contents.reduce(
    (sum, turns) => sum + turns.reduce((n, turn) => n + (turn.parts ?? []).reduce((m, part) => m + (part.text?.length ?? 0), 0), 0),
    0,
  );
  const truncated =
    options.truncateOverTokens === null
      ? []
      : examples.flatMap((example, index) => (example.tokens > options.truncateOverTokens! ? [index] : []));
  const userMessages = contents.map((turns) => turns.filter((turn) => turn.role === 'user').length);
  return {
    tuningDatasetExampleCount: String(examples.length),
    totalTuningCharacterCount: String(characters),
    totalBillableTokenCount: String(examples.reduce((sum, example) => sum + example.tokens, 0)),
    tuningStepCount: String(Math.ceil((examples.length * options.epochs) / EXAMPLES_PER_STEP)),
    userMessagePerExampleDistribution: distribution(userMessages),
    userDatasetExamples: contents.slice(0, SAMPLE_EXAMPLES).flat(),
    totalTruncatedExampleCount: String(truncated.length),
    truncatedExampleIndices: truncated.map(String),
  };
}

function distribution(values: number[]): Record<string, unknown> {
  if (values.length === 0) return { sum: '0' };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const sum = sorted.reduce((a, b) => a + b, 0);
  return { sum: String(sum), min: sorted[0], max: sorted.at(-1), mean: sum / sorted.length, median: at(0.5), p5: at(0.05), p95: at(0.95) };
}

/**
 * `tuningDataStats.preferenceOptimizationDataStats` as the SIMULATOR reports it, in the shape of
 * @google/genai's PreferenceOptimizationDataStats. Billable tokens follow "About preference
 * tuning for Gemini models", Pricing: "the number of tokens in the prompt multiplied by 2, plus
 * the number of completion tokens" per example. The step count is the same stand-in as above.
 */
export function preferenceDataStats(
  examples: ExampleStats[],
  options: { epochs: number; tokens?: { count(text: string): number } },
): Record<string, unknown> {
  const textTokens = (contents: Content[] | undefined) =>
    (contents ?? []).reduce(
      (sum, turn) =>
        sum + (turn.parts ?? []).reduce((n, part) => n + (part.text && options.tokens ? options.tokens.count(part.text) : 0), 0),
      0,
    );
  const billable = examples.reduce((sum, example) => {
    const value = example.value as { systemInstruction?: Content; contents?: Content[]; completions?: { completion?: Content }[] };
    const prompt = textTokens(value.contents) + textTokens(value.systemInstruction ? [value.systemInstruction] : []);
    const completions = textTokens((value.completions ?? []).map((item) => item.completion ?? {}));
    return sum + 2 * prompt + completions;
  }, 0);
  return {
    tuningDatasetExampleCount: String(examples.length),
    totalBillableTokenCount: String(billable),
    tuningStepCount: String(Math.ceil((examples.length * options.epochs) / EXAMPLES_PER_STEP)),
    userDatasetExamples: examples.slice(0, SAMPLE_EXAMPLES).map((example) => example.value),
  };
}
