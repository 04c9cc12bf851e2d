export { attemptsService } from './attempts.service.js';
export { AttemptsRepository, type AttemptsDB } from './attempts.repository.js';
