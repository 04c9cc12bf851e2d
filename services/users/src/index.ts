export { usersService } from './users.service.js';
