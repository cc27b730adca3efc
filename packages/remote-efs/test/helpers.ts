export { tempDir } from '@tdvc/test-utils';
