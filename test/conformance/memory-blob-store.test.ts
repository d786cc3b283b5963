import { MemoryBlobStore } from '../../src/storage/blob/memory-blob-store.js';
import { describeBlobStore } from './blob-store-suite.js';

describeBlobStore('memory', async () => ({ store: new MemoryBlobStore(), cleanup: async () => {} }));
