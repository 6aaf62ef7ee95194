export * from './constants';
export * from './course-server';
export { courseShape, CourseShape, CourseService, CourseVariant } from './layout';
export { asUbuntu, onCourse, SESSION_PATH } from './namespaces';
