import { parquetWriteBuffer } from 'hyparquet-writer';

type SchemaElement = {
  name: string;
  num_children?: number;
  repetition_type?: 'REQUIRED' | 'OPTIONAL' | 'REPEATED';
  type?: 'BYTE_ARRAY' | 'DOUBLE' | 'BOOLEAN';
  converted_type?: 'UTF8' | 'LIST';
};

/**
 * JSON records as the Parquet a Hugging Face dataset is stored in: real nested columns (a list of
 * messages is a LIST of structs, a turn a struct), not JSON text, so the reader meets the layout
 * pyarrow writes. The schema is inferred from the records (every record has every column).
 */
export function parquetFromRecords(records: Record<string, unknown>[], options: { rowGroupSize?: number } = {}): ArrayBuffer {
  const names = Object.keys(records[0]!);
  const schema: SchemaElement[] = [{ name: 'root', num_children: names.length }];
  for (const name of names)
    schema.push(
      ...elementsFor(
        name,
        records.map((record) => record[name]),
      ),
    );
  return parquetWriteBuffer({
    columnData: names.map((name) => ({ name, data: records.map((record) => record[name] ?? null) as never })),
    schema: schema as never,
    ...(options.rowGroupSize ? { rowGroupSize: options.rowGroupSize } : {}),
  });
}

function elementsFor(name: string, values: unknown[]): SchemaElement[] {
  const sample = values.find((value) => value !== null && value !== undefined);
  if (Array.isArray(sample)) {
    const items = values.flatMap((value) => (Array.isArray(value) ? value : []));
    return [
      { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      ...elementsFor('element', items),
    ];
  }
  // Bytes are written as they are into a string column: how a test makes one that is not UTF-8.
  if (sample instanceof Uint8Array) return [{ name, repetition_type: 'OPTIONAL', type: 'BYTE_ARRAY', converted_type: 'UTF8' }];
  if (sample !== null && typeof sample === 'object') {
    const fields = [...new Set(values.flatMap((value) => (value && typeof value === 'object' ? Object.keys(value) : [])))];
    return [
      { name, repetition_type: 'OPTIONAL', num_children: fields.length },
      ...fields.flatMap((field) =>
        elementsFor(
          field,
          values.map((value) => (value as Record<string, unknown> | null)?.[field]),
        ),
      ),
    ];
  }
  if (typeof sample === 'number') return [{ name, repetition_type: 'OPTIONAL', type: 'DOUBLE' }];
  if (typeof sample === 'boolean') return [{ name, repetition_type: 'OPTIONAL', type: 'BOOLEAN' }];
  return [{ name, repetition_type: 'OPTIONAL', type: 'BYTE_ARRAY', converted_type: 'UTF8' }];
}
