export { gradesService } from './grades.service.js';
