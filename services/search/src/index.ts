export { searchService } from './search.service.js';
