/* unit.h - what the cmocka unit tests share: one main() */
#ifndef VMF_UNIT_H
#define VMF_UNIT_H

/*
 * UNIT_MAIN() - the file's main(): run the group @name (@setup and
 * @teardown around it, or NULL) of the tests that follow, written as
 * U(test) (no fixture) or T(test) (a file defines T with its fixture).
 */
#define U(f)	cmocka_unit_test(f)
#define UNIT_MAIN(name, setup, teardown, ...)						\
	int main(void)									\
	{										\
		const struct CMUnitTest tests[] = { __VA_ARGS__ };			\
											\
		return cmocka_run_group_tests_name(name, tests, setup, teardown);	\
	}

#endif /* VMF_UNIT_H */
