export { packageVersion } from '../common/version.js';
