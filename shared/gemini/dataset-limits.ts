import type { Issue } from '../convert/types.ts';
import type { ModelSpec } from './models.ts';

/**
 * Dataset-wide limits of a base model ([lim] in validate.ts): how many validation and training
 * examples, and how large a JSONL file. The converter asks before writing each example, so it
 * can move a validation example to training when the validation set is full instead of
 * producing a dataset Vertex would refuse.
 */
export class DatasetLimitsTracker {
  private readonly spec: ModelSpec | undefined;
  private trainExamples = 0;
  private validationExamples = 0;
  private trainBytes = 0;
  private validationBytes = 0;
  private multimodal = false;
  private readonly reported = new Set<string>();

  constructor(spec: ModelSpec | undefined) {
    this.spec = spec;
  }

  /** Where an example assigned to `split` may go: validation overflows into train. */
  place(split: 'train' | 'validation'): 'train' | 'validation' {
    if (split === 'validation' && this.spec && this.validationExamples >= this.spec.maxValidationExamples) return 'train';
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
