int simul_test_placeholder;
