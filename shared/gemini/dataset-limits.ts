import type { Issue } from '../convert/types.ts';
import type { ModelSpec } from './models.ts';

/**
 * Dataset-wide limits of a base model ([lim] in validate.ts): how many validation and training
 * examples, and how large a JSONL file. The converter asks before writing each example, so it
 * can move a validation example to training when the validation set is full instead of
 * producing a dataset Vertex would refuse.
 */
/**
 * Preference tuning's validation rule ("About preference tuning for Gemini models", Limitations:
 * "Maximum validation dataset size: 5000 examples or 30% of the number of training examples if
 * there are more than 1000 validation examples"). The supervised pages say 5,000 alone.
 */
export const PREFERENCE_VALIDATION_SHARE = 0.3;
export const PREFERENCE_VALIDATION_SHARE_ABOVE = 1_000;

export class DatasetLimitsTracker {
  private readonly spec: ModelSpec | undefined;
  private readonly method: 'supervised' | 'preference';
  private movedByShare = 0;
  private trainExamples = 0;
  private validationExamples = 0;
  private trainBytes = 0;
  private validationBytes = 0;
  private multimodal = false;
  private readonly reported = new Set<string>();

  constructor(spec: ModelSpec | undefined, method: 'supervised' | 'preference' = 'supervised') {
    this.spec = spec;
    this.method = method;
  }

  /**
   * Where an example assigned to `split` may go: validation overflows into train. For preference
   * data, past 1,000 validation examples a validation example waits until it is within 30 % of the
   * training examples so far; training only grows, so the finished files keep the rule.
   */
  place(split: 'train' | 'validation'): 'train' | 'validation' {
    if (split !== 'validation') return split;
    if (this.spec && this.validationExamples >= this.spec.maxValidationExamples) return 'train';
    const next = this.validationExamples + 1;
    if (
      this.method === 'preference' &&
      next > PREFERENCE_VALIDATION_SHARE_ABOVE &&
      next > PREFERENCE_VALIDATION_SHARE * this.trainExamples
    ) {
      this.movedByShare += 1;
      return 'train';
    }
    return split;
  }

  /** Records an example written to `split`; returns the dataset-level errors it causes (each once). */
  add(split: 'train' | 'validation', bytes: number, multimodal: boolean, line: number): Issue[] {
    const issues: Issue[] = [];
    if (multimodal) this.multimodal = true;
    if (split === 'train') {
      this.trainExamples += 1;
      this.trainBytes += bytes;
    } else {
      this.validationExamples += 1;
      this.validationBytes += bytes;
    }
    if (!this.spec) return issues;
    const maxTraining = this.multimodal ? this.spec.maxMultimodalTrainingExamples : this.spec.maxTextOnlyTrainingExamples;
    if (this.trainExamples > maxTraining) {
      this.once(
        issues,
        'too_many_examples',
        line,
        `more than ${maxTraining} ${this.multimodal ? 'multimodal' : 'text-only'} training examples, the most ${this.spec.id} accepts`,
      );
    }
    if (this.trainBytes > this.spec.maxDatasetFileBytes || this.validationBytes > this.spec.maxDatasetFileBytes) {
      this.once(
        issues,
        'file_too_large',
        line,
        `the ${split} JSONL passes ${this.spec.maxDatasetFileBytes} bytes, the largest dataset file ${this.spec.id} accepts`,
      );
    }
    return issues;
  }

  /** The warning to report once validation overflowed, if it did. */
  overflowWarning(line: number): Issue | undefined {
    if (this.movedByShare > 0) {
      return {
        line,
        code: 'too_many_validation_examples',
        message: `preference tuning takes more than ${PREFERENCE_VALIDATION_SHARE_ABOVE} validation examples only up to ${PREFERENCE_VALIDATION_SHARE * 100}% of the training examples ("About preference tuning for Gemini models"): ${this.movedByShare} validation examples went to training`,
        path: '',
      };
    }
    if (!this.spec || this.validationExamples < this.spec.maxValidationExamples) return undefined;
    return {
      line,
      code: 'too_many_validation_examples',
      message: `the validation split reached ${this.spec.maxValidationExamples} examples, the most ${this.spec.id} accepts; later validation examples went to training`,
      path: '',
    };
  }

  private once(issues: Issue[], code: string, line: number, message: string) {
    if (this.reported.has(code)) return;
    this.reported.add(code);
    issues.push({ line, code, message, path: '' });
  }
}
