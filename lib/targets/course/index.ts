export * from './constants';
export * from './course-server';
export { courseShape, CourseShape, CourseService, CourseVariant } from './layout';
export { asUbuntu, onCourse, SESSION_PATH } from './namespaces';
export { COURSE_LOCK_DIR, lockCourse, unlockCourse } from './lock';
export { CADDY_UNIT, parseUnit, pm2StartupUnit, rebootCourse } from './reboot';
