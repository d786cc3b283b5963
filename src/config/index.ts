/** The configuration: one schema -> TS type + JSON Schema; defaults < file < env < flags; validated once, frozen. */
export { loadConfig, MAX_REPORTED_PROBLEMS, type LoadConfigOptions } from './load-config.js';
export { ConfigSchema, LOG_LEVELS, type Config, type LogLevel } from './schema.js';
export { configJsonSchema } from './json-schema.js';
export type { ConfigProblem } from './config-layer.js';
export { ENV_ALIASES, ENV_ALLOW_LIST, ENV_ALLOW_PREFIXES, ENV_PREFIX, envVarName } from './env-layer.js';
export { MAX_CONFIG_FILE_BYTES, MAX_YAML_ALIAS_COUNT } from './read-config-file.js';
export { parseListenAddress, type ListenAddress } from './listen-address.js';
