export { filesService } from './files.service.js';
export * from './edge.js';
