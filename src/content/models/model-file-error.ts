/**
 * A model file's header is not what its format says (safetensors, GGUF): the message names what
 * is wrong (a length past the end of the file, JSON that does not parse, overlapping offsets, an
 * absurd count). Thrown by the pure parsers here; the models feature stores it on the model's
 * metadata — the artifact itself stays stored and pullable.
 */
export class ModelFileError extends Error {
  override readonly name = 'ModelFileError';
}

/**
 * The parser needs the file's first `bytes` bytes and was given fewer (the file is longer): read
 * that much and call again. Never thrown for a buffer that already holds the whole file.
 */
export class NeedMoreBytes extends Error {
  override readonly name = 'NeedMoreBytes';
  constructor(readonly bytes: number) {
    super(`the header needs the first ${bytes} bytes`);
  }
}
