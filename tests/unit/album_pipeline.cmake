# The album pipeline test runs one case per ctest entry (each under a
# minute); the auto-registered unit_test_album_pipeline runs the album
# policy. Filters are cmocka test-name patterns.
if(TARGET unit_test_album_pipeline)
  foreach(case policy_track policy_loudest policy_hybrid tonal_full tonal_half tonal_bounded)
    add_test(NAME unit_album_pipeline_${case}
             COMMAND unit_test_album_pipeline "test_${case}")
    set_tests_properties(unit_album_pipeline_${case} PROPERTIES TIMEOUT 600
                         LABELS unit ENVIRONMENT "${MF_TEST_ENV}")
  endforeach()
endif()
