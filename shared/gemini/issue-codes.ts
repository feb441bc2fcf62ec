/**
 * Every error and warning code the converter and validator report, with what it means. Codes are
 * stable and searchable: a user who sees `consecutive_turns` in a report can find it here and in
 * docs/dataset-format.md. The six codes marked (notebook) are the error kinds of Google's own
 * tuning-dataset validation notebook (vertex-ai-samples, "tuning dataset validation"), kept
 * verbatim so people can search across both.
 */
export const IssueCode = {
  // --- reading the file (errors)
  invalid_json: 'The line is not valid JSON.',
  invalid_utf8: 'The record is not valid UTF-8 text.',
  record_too_large: 'The record is larger than the per-record byte limit (MAX_RECORD_BYTES, --max-record-bytes), so it was not read.',
  csv_parse_error: 'The CSV/TSV record could not be parsed (e.g. a quote inside an unquoted field).',
  invalid_parquet:
    'A Parquet row group could not be decoded (a damaged page, an unknown codec): each of its rows is reported, the other row groups convert.',
  unclosed_quote: 'A CSV/TSV quote never closes: the record is reported at the line where the quote opened.',
  not_an_object: 'The record is not a JSON object.',
  // --- structure (errors)
  missing_contents_list: 'The example has no `contents` array (notebook).',
  empty_contents: 'The `contents` array is empty.',
  content_item_missing_key: 'A content item lacks `role` or `parts` (notebook).',
  unrecognized_role: 'A role other than `user` and `model` appears in `contents` (notebook).',
  consecutive_turns: 'Two turns of the same role follow each other; turns must alternate (notebook).',
  first_turn_not_user: 'The first turn must come from `user`.',
  last_turn_not_model: 'The last turn must come from `model`: it is what the model learns to answer.',
  invalid_part:
    'A part must hold exactly one of `text`, `fileData`, `functionCall` or `functionResponse` (notebook, plus function calling).',
  missing_text: 'A part or message has no text where text is needed (notebook).',
  empty_text: 'A text part is empty or only whitespace.',
  empty_parts: 'A content item has no parts.',
  inline_data_unsupported: 'inlineData is not accepted by Gemini supervised tuning datasets; upload the file to GCS and use fileData.',
  invalid_system_instruction: 'systemInstruction must be {parts:[{text}]} with text parts only.',
  unknown_field: 'A field Vertex does not know; it was dropped (warning) or rejected (error) as stated.',
  // --- function calling (errors)
  duplicate_field: 'A field is given twice, under its JSON name and its proto name (`systemInstruction` and `system_instruction`).',
  invalid_tools: '`tools` must be a list of `{functionDeclarations: [...]}`; tuning examples declare functions only.',
  invalid_function_declaration:
    'A function declaration has no valid name (a letter or `_` first; letters, digits, `_ . : -`; at most 128), a name declared twice, or a schema that is not an object.',
  invalid_function_call: "A `functionCall` part lacks the function's name, or its `args` is not a JSON object.",
  invalid_function_response: "A `functionResponse` part lacks the function's name, or its `response` is not a JSON object.",
  undeclared_function: 'A `functionCall` names a function that no tool in the example declares.',
  unanswered_function_response: 'A `functionResponse` answers a function the model turn just before it did not call.',
  misplaced_function_part: 'A `functionCall` outside a `model` turn, or a `functionResponse` outside a `user` turn.',
  // --- media (errors)
  unsupported_mime_type: 'The MIME type is not one Gemini tuning accepts (images, PDF, audio, video).',
  missing_mime_type: 'fileData has no mimeType, and none could be inferred from the file extension.',
  invalid_file_uri: 'fileUri must be gs://bucket/object (https is accepted with a warning).',
  too_many_media: 'More media files of one kind than one example may hold.',
  media_not_found: 'A referenced gs:// file does not exist (Vertex would fail the whole job).',
  media_unreadable: "A referenced gs:// file cannot be read by the pipeline's service account.",
  media_too_large: 'A referenced file is over the size limit of its kind (20 MB images and PDFs, 100 MB audio and video).',
  media_type_mismatch: "A referenced file's first bytes show another type than its declared mimeType.",
  media_copy_failed: 'An https file could not be copied into Cloud Storage (HTTPS_MEDIA=copy): the host failed, timed out or broke off.',
  local_media_path:
    'fileUri is a local file path, which Vertex cannot read: give its gs:// URI, or convert with `--upload gs://BUCKET/PREFIX` (a warning then, and the file is uploaded).',
  media_outside_root: "A local media path leads outside the media folder (--media-root, or the dataset's own bucket), so it is not read.",
  media_upload_failed: 'A local media file could not be read or uploaded to Cloud Storage.',
  // --- preference data (errors)
  not_preference_data: 'The file holds preference data, but this record has no chosen/rejected answers or KTO label.',
  preference_answer_missing:
    'A preference record lacks the answer it judges: `chosen`/`rejected` is not an answer, or a KTO conversation does not end with the model.',
  invalid_completions:
    'Vertex preference format: `completions` must be one completion scored 1 and one scored 0, each `{score, completion: {role: "model", parts}}`.',
  preference_prompt_not_user: 'The prompt (`contents`) of a preference example must end with a user turn, which the completions answer.',
  preference_not_text: 'Preference tuning takes text only: the example holds images or other media.',
  // --- limits (errors)
  example_too_long: 'The example has more tokens than the base model accepts per example (input and output together).',
  unknown_base_model:
    'The base model is not in the model catalogue: it was checked against the strictest limits in it, no cost is estimated, and Vertex decides (add it with MODEL_CATALOGUE).',
  too_many_validation_examples:
    'More validation examples than the base model accepts (5,000; for preference data, beyond 1,000 only up to 30% of the training examples); the extra ones were moved to training.',
  too_many_examples: 'More training examples than the base model accepts.',
  file_too_large: 'The output JSONL would exceed the maximum dataset file size.',
  no_training_examples: 'No example is valid: the training file would be empty, so nothing can be tuned from the file.',
  // --- mapping from a raw format (errors)
  missing_field: 'A field the format needs is missing or empty (e.g. Alpaca `output`, a CSV column).',
  invalid_field_type: 'A field has the wrong type (e.g. a number where text is needed).',
  invalid_image_url: 'An image_url is not a gs://, https:// or data: URL.',
  invalid_media_reference: 'An entry of `images`, `videos` or `audios` is not a file path or URI (or holds bytes with no path).',
  media_placeholder_mismatch:
    'The number of `<image>` (`<video>`, `<audio>`) placeholders differs from the files listed, so the files cannot be placed.',
  // --- warnings
  text_part_split: 'A text part over --max-part-tokens was split into consecutive parts.',
  https_file_uri: 'fileUri is https; GCS (gs://) is safer, since every file must open when the job starts.',
  system_role_in_contents: 'A system message inside the conversation was moved to systemInstruction.',
  weight_zero_turn: 'An assistant turn with weight 0 was kept as context (Vertex trains on every model turn).',
  trailing_user_turn_dropped: 'A trailing user turn with no answer was dropped.',
  empty_row: 'A CSV/TSV row with no values was skipped.',
  validation_split_skipped: 'Every valid example fell in the validation share, so all went to training and there is no validation set.',
  preference_chosen_only: 'Preference pairs were converted for supervised tuning: each became its chosen answer, the rejected one unused.',
  kto_undesirable_left_out:
    'A KTO answer labelled false is never a supervised target: left out (convert with --method preference to pair it).',
  kto_unpaired:
    'A KTO answer with no answer to the same prompt judged the other way: it cannot make a preference pair, so it was left out.',
  media_placed_first:
    "No `<image>` (`<video>`, `<audio>`) placeholder marks where the listed files go: they were put before the first user message's text.",
  few_training_examples: 'Fewer training examples than the 100 Google recommends starting with.',
} as const;

export type IssueCodeName = keyof typeof IssueCode;
