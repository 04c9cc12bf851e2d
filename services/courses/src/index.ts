export { coursesService } from './courses.service.js';
